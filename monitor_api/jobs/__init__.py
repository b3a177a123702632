"""Background jobs on the PostgreSQL queue (procrastinate): photo verification, schedules."""

from monitor_api.jobs.cli import register as _register_cli

_register_cli()
