"""Exports: pseudonymised, audited, streamed downloads of published visits."""
