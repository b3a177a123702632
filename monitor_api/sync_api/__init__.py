"""The sync endpoints and their wiring to the engine."""

from monitor_api.sync_api.cli import register as _register_cli

_register_cli()
