"""tus uploads of photo bytes."""

from monitor_api.uploads.cli import register as _register_cli

_register_cli()
