"""Marshmallow schemas: the API and sync contract."""
