"""Stable pseudonyms for exported identifiers: HMAC-SHA256 under a deployment secret.

The same visit, team or record gets the same pseudonym in every download (analysts can group
and join across files), and nobody without the key can tell which internal id it stands for.
The key comes from EXPORT_PSEUDONYM_KEY; when that is unset (development, `make run`), a key
is generated once into the state directory (`var/export-pseudonym-key`, like
`var/pg-password`) and reused. Losing or changing the key changes every pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from pathlib import Path

from monitor_api.config import Settings

log = logging.getLogger(__name__)
KEY_FILE = "export-pseudonym-key"
REF_HEX = 20  # 80 bits: no collision to fear among millions of records
_CACHE_LIMIT = 100_000  # per-visit and per-team pseudonyms kept while one export streams
_lock = threading.Lock()
_keys: dict[str, bytes] = {}


def pseudonym_key(settings: Settings) -> bytes:
    """The deployment's pseudonym key: EXPORT_PSEUDONYM_KEY, else the generated key file."""
    if settings.export_pseudonym_key:
        return settings.export_pseudonym_key.encode()
    path = Path(settings.state_dir) / KEY_FILE
    with _lock:
        key = _keys.get(str(path))
        if key is None:
            key = _keys[str(path)] = _load_or_create(path)
    return key


def _load_or_create(path: Path) -> bytes:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    try:  # a hard link appears whole and fails if another process created the key first
        os.link(tmp, path)
        log.warning("EXPORT_PSEUDONYM_KEY is unset: generated %s; keep it (pseudonyms change "
                    "with the key) or set EXPORT_PSEUDONYM_KEY", path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key (expected 64 hex characters)")
    return key.encode()


class Pseudonyms:
    """Pseudonyms of one kind of identifier each ('visit', 'team', 'finding', ...)."""

    def __init__(self, key: bytes) -> None:
        self._base = hmac.new(key, digestmod=hashlib.sha256)
        self._cache: dict[bytes, str] = {}

    def ref(self, kind: bytes, raw: bytes) -> str:
        """The pseudonym of `raw` (an id as lowercase text, bytes) of `kind`."""
        h = self._base.copy()
        h.update(kind + b":" + raw)
        return h.hexdigest()[:REF_HEX]

    def cached(self, kind: bytes, raw: bytes) -> str:
        """The same, remembered: visits and teams recur on many rows."""
        key = kind + raw
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()  # memory stays flat however many visits stream by
            found = self._cache[key] = self.ref(kind, raw)
        return found
