"""Audit fixtures: the accounts ones (users with session tokens made in the db)."""

from tests.accounts.conftest import password_hash, quick_user  # noqa: F401
