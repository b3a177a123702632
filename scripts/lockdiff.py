"""Print the requirements of a pip-compile output (argv[2]) absent from another (argv[1])."""

from __future__ import annotations

import re
import sys
from pathlib import Path

NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def blocks(text: str) -> list[tuple[str | None, list[str]]]:
    """(package, lines) for each requirement with its hash and comment lines."""
    out: list[tuple[str | None, list[str]]] = []
    for line in text.splitlines():
        match = NAME.match(line)
        if match:
            out.append((_norm(match.group(1)), [line]))
        elif out and (line.startswith("    ") or line.startswith("  ")):
            out[-1][1].append(line)
        else:
            out.append((None, [line]))
    return out


def main() -> None:
    runtime = {name for name, _ in blocks(Path(sys.argv[1]).read_text()) if name}
    print("# The [dev] extra of pyproject.toml, resolved under requirements/runtime.lock and")
    print("# without the packages that file already pins: install both (scripts/bootstrap.sh).")
    print("# Regenerate with `make lock` (scripts/lock.sh).")
    for name, lines in blocks(Path(sys.argv[2]).read_text()):
        if name is None:
            if lines[0].startswith("#"):
                continue
            print("\n".join(lines))
        elif name not in runtime:
            print("\n".join(lines))


if __name__ == "__main__":
    main()
