"""Backups and restores: a PostgreSQL dump plus a manifest of every blob with its SHA-256."""

from monitor_api.backup.cli import register as _register_cli

_register_cli()
