"""Export downloads over HTTP: validated and authorised first, then streamed."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from monitor_api.audit.service import Actor
from monitor_api.auth import Principal, current_principal, roles_required
from monitor_api.db import get_session
from monitor_api.errors import NotFound
from monitor_api.exports import datapackage, service
from monitor_api.exports.columns import Context, Filters
from monitor_api.exports.datasets import BUNDLE, COMMON_FILTERS, DATASETS, EXPORT_ROLES, for_role
from monitor_api.exports.formats import MEDIA, output
from schemas import exports as s

blp = Blueprint("exports", __name__, url_prefix="/api/v1/exports",
                description="Pseudonymised downloads of published visits (CSV, XLSX, GeoJSON, "
                            "Parquet, ZIP with datapackage.json); every export is audited.")
NAMES = ", ".join((*DATASETS, BUNDLE))
DOWNLOAD = {"description": "The file, streamed (chunked). Every export is audited with its "
                           "row count and the SHA-256 of the bytes sent.",
            "content": {media.split(";")[0]: {"schema": {"type": "string",
                                                         "format": "binary"}}
                        for media in MEDIA.values()}}


@blp.route("")
class Datasets(MethodView):
    @roles_required(*EXPORT_ROLES)
    @blp.response(200, s.DatasetsOut)
    def get(self) -> Any:
        """The datasets you may export, their filters and columns."""
        ctx = Context(current_principal(), Filters())
        return {"formats": list(service.FORMATS), "datasets": [
            {"name": d.name, "title": d.title, "description": d.description,
             "filters": sorted(COMMON_FILTERS | d.filters),
             "columns": [datapackage.field(c) for c in output(d.build(ctx))]}
            for d in for_role(ctx.principal.role)]}


# A plain path segment (not an `any` converter): an unknown name is this view's own 404, after
# the token and role checks that every operation makes first.
@blp.route("/<dataset>", parameters=[{
    "in": "path", "name": "dataset", "required": True,
    "description": f"One of {NAMES} (`all`: format=zip only).",
    "schema": {"type": "string", "enum": [*DATASETS, BUNDLE]}}])
class Export(MethodView):
    @roles_required(*EXPORT_ROLES)
    @blp.arguments(s.ExportArgs, location="query")
    @blp.doc(responses={"200": DOWNLOAD})
    def get(self, args: dict[str, Any], dataset: str) -> Response:
        """Download a dataset (or `all`, as a ZIP) in the chosen format."""
        return download(current_principal(), dataset, args)


def download(principal: Principal, dataset: str, args: dict[str, Any]) -> Response:
    """The streamed download (the API's and the web export form's): authorised and planned
    first, so that bad input is a problem answer, never half a file."""
    if dataset not in DATASETS and dataset != BUNDLE:
        raise NotFound(f"No dataset {dataset!r}; datasets: {NAMES}.")
    fmt = args.pop("format")
    plan = service.plan(principal, dataset, fmt, s.to_filters(args))
    actor = Actor(principal.user_id, principal.device_id, g.get("request_id"),
                  request.remote_addr)
    get_session().commit()  # the request's own work is done; the stream has its own
    body = service.ExportStream(plan, current_app.extensions["db_sessionmaker"],
                                current_app.config["SETTINGS"], actor)
    return Response(body, mimetype=None, content_type=plan.media_type,
                    direct_passthrough=True, headers={
                        "Content-Disposition": f'attachment; filename="{plan.filename}"'})
