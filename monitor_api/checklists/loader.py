"""Load a checklist template shipped as JSON (the starter checklist) as a published template.

Idempotent by (code, version): loading twice leaves one template. Registered as a demo seeder
and as the `monitor-api load-checklist [path]` command.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor_api import cli
from monitor_api.audit.service import record
from monitor_api.checklists.models import ChecklistTemplate
from monitor_api.checklists.service import build_template
from monitor_api.config import Settings
from monitor_api.demo.seed import register_seeder
from monitor_api.errors import ValidationFailed
from schemas.checklists import TemplateFile

STARTER = "data/starter_checklist.json"


def starter_text() -> str:
    """The starter checklist shipped with the package."""
    return resources.files("monitor_api.checklists").joinpath(STARTER).read_text("utf-8")


def load_checklist(session: Session, text: str) -> tuple[ChecklistTemplate, bool]:
    """Validate and load a template file; returns (template, created)."""
    try:
        data: dict[str, Any] = TemplateFile().load(json.loads(text))
    except (ValueError, ValidationError) as exc:
        errors = exc.messages if isinstance(exc, ValidationError) else {"file": [str(exc)]}
        raise ValidationFailed("The checklist file is invalid; see `errors`.",
                               errors=errors) from exc
    existing = session.scalar(select(ChecklistTemplate).where(
        ChecklistTemplate.code == data["code"], ChecklistTemplate.version == data["version"]))
    if existing is not None:
        return existing, False
    template = build_template(session, code=data["code"], version=data["version"],
                              title=data["title"], facility_types=data.get("facility_types", []),
                              questions=data["questions"], created_by_id=None,
                              status="published")
    record(session, "checklist_template.load", target_type="checklist_template",
           target_id=template.id, details={"code": template.code, "version": template.version,
                                           "questions": len(template.questions)})
    return template, True


@register_seeder
def seed_starter_checklist(session: Session) -> None:
    """Demo seeder: the starter checklist, published."""
    load_checklist(session, starter_text())


def _cmd_load(settings: Settings, args: argparse.Namespace) -> int:
    try:
        text = Path(args.path).read_text("utf-8") if args.path else starter_text()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.path}: {exc}", file=sys.stderr)
        return 1
    with cli._session(settings) as session:
        try:
            template, created = load_checklist(session, text)
        except ValidationFailed as exc:
            print(f"error: {exc.detail}\n{json.dumps(exc.errors, indent=2)}", file=sys.stderr)
            return 1
        state = "loaded" if created else "already present:"
        print(f"{state} {template.code} v{template.version} ({len(template.questions)} "
              f"questions, {template.status}) id={template.id}")
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", help="a template JSON file (default: the starter)")


cli._EXTRA["load-checklist"] = (
    "load a checklist template JSON file (default: the starter) as a published template",
    _cmd_load, _configure)
