"""Exports: pseudonymised, audited, streamed downloads of published visits."""

from monitor_api.exports.cli import register as _register_cli

_register_cli()
