"""The export form: analysts (and partners, coordinators, admins) build a download. The
file is the API's own export (same datasets, filters, pseudonyms, audit), signed in by the
page's cookie."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from marshmallow import ValidationError

from monitor_api.checklists.models import SECTIONS
from monitor_api.errors import ValidationFailed
from monitor_api.exports.datasets import BUNDLE, EXPORT_ROLES, for_role
from monitor_api.exports.routes import download
from monitor_api.exports.service import FORMATS
from monitor_api.facilities.models import AUTHORITIES, FACILITY_TYPES, REGIONS
from monitor_api.findings.models import SEVERITIES
from monitor_api.web.session import page, web_principal
from monitor_api.web.views import bp
from schemas.exports import ExportArgs


@bp.route("/exports")
@page(*EXPORT_ROLES)
def exports() -> Any:
    """The form that builds a download."""
    return render_template("exports.html", datasets=for_role(web_principal().role),
                           bundle=BUNDLE, formats=FORMATS, regions=REGIONS,
                           types=FACILITY_TYPES, authorities=AUTHORITIES, themes=SECTIONS,
                           severities=SEVERITIES)


@bp.route("/exports/download")
@page(*EXPORT_ROLES)
def export_download() -> Any:
    """Stream the file the form asked for (empty fields are left out)."""
    query = {k: v for k, v in request.args.items(multi=True) if v != "" and k != "dataset"}
    try:
        args = ExportArgs().load(_multi(query))
    except ValidationError as exc:
        raise ValidationFailed("Some fields of the export form are not valid.",
                               errors=exc.normalized_messages()) from None
    return download(web_principal(), request.args.get("dataset", ""), args)


def _multi(items: dict[str, Any]) -> dict[str, Any]:
    """Repeated form fields as one comma-separated value (what the API's filters take)."""
    out: dict[str, list[str]] = {}
    for key, value in request.args.items(multi=True):
        if key in items and value != "":
            out.setdefault(key, []).append(value)
    return {k: ",".join(v) for k, v in out.items()}
