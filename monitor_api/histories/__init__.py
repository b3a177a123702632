"""Facility condition histories: indicators per visit, publication, and their reads."""

from monitor_api.histories import refresh as _refresh  # noqa: F401  (keeps indicators fresh)
from monitor_api.histories.cli import register as _register_cli

_register_cli()
