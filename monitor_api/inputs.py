"""One input contract for every operation: documented query parameters only, sane JSON bodies.

The OpenAPI document is the contract: a query parameter an operation does not document is
refused (422) before the view runs, so no list silently ignores a misspelt filter. JSON
bodies are read once here, before webargs: nesting deeper than jsonsafe.MAX_DEPTH → 400
(`too-deep`, naming the limit), a lone UTF-16 surrogate or a NUL in any key or string → 422
naming the field. Neither can reach the database or the response encoder after that.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from flask_smorest import Api
from flask_smorest.spec.plugins import FlaskPlugin

from monitor_api import jsonsafe
from monitor_api.errors import TooDeep, ValidationFailed

# The sync push reads its own body (wire.py): one bad record is rejected, not the push.
_OWN_BODY_PATHS = ("/api/v1/sync",)
_OWN_BODY_PREFIXES = ("/api/v1/uploads",)


def reads_own_body(path: str) -> bool:
    """Paths whose bodies are not REST JSON: they check their own type, size and content
    (the sync push, tus uploads, and the web pages' CSRF-protected forms)."""
    return (path in _OWN_BODY_PATHS or path.startswith(_OWN_BODY_PREFIXES)
            or not path.startswith("/api/"))


class QueryContract:
    """The query parameters each documented operation takes, from the OpenAPI document."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._allowed: dict[tuple[str, str], frozenset[str]] | None = None

    def allowed(self, rule: str, method: str) -> frozenset[str] | None:
        """Documented query parameter names; None for operations outside the document."""
        if self._allowed is None:  # built on first use: every blueprint is registered by then
            self._allowed = self._build()
        method = "get" if method == "HEAD" else method.lower()
        return self._allowed.get((FlaskPlugin.flaskpath2openapi(rule), method))

    def _build(self) -> dict[tuple[str, str], frozenset[str]]:
        allowed: dict[tuple[str, str], frozenset[str]] = {}
        for path, item in self.api.spec.to_dict().get("paths", {}).items():
            shared = _query_names(item.get("parameters", []))
            for method, op in item.items():
                if method != "parameters" and isinstance(op, dict):
                    allowed[(path, method)] = shared | _query_names(op.get("parameters", []))
        return allowed

    def check(self) -> None:
        """422 for an undocumented query parameter or a NUL in a value (names them all)."""
        rule = request.url_rule
        if rule is None or request.method == "OPTIONS" or not request.args:
            return
        names = self.allowed(rule.rule, request.method)
        if names is None:
            return
        errors: dict[str, list[str]] = {}
        for name in request.args:
            if name not in names:
                errors[name] = ["Unknown query parameter."]
            elif any("\x00" in v for v in request.args.getlist(name)):
                errors[name] = ["Must not contain NUL characters."]
        if errors:
            known = ", ".join(sorted(names)) or "none"
            raise ValidationFailed(f"Query parameters this operation takes: {known}.",
                                   errors=errors)


def _query_names(params: list[Any]) -> frozenset[str]:
    return frozenset(p["name"] for p in params if isinstance(p, dict) and p.get("in") == "query")


def check_json_body() -> None:
    """400 for JSON nested too deeply; 422 naming fields with lone surrogates or NULs."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE") or reads_own_body(request.path):
        return
    if not request.is_json:
        return
    data = request.get_data(cache=True)  # webargs reads the same cached bytes afterwards
    if not data:
        return
    try:
        doc = json.loads(data)
    except RecursionError:
        raise TooDeep("The request body") from None
    except ValueError:
        return  # not JSON: webargs answers 400 "not valid JSON" as before
    if jsonsafe.depth_exceeds(doc):
        raise TooDeep("The request body")
    problems = jsonsafe.text_problems(doc)
    if problems:
        errors: dict[str, Any] = {}
        for path, message in problems:
            node = errors
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node.setdefault(path[-1] if path else "_schema", []).append(message)
        raise ValidationFailed("Text fields must be valid Unicode text without NUL characters; "
                               "see `errors`.", errors=errors)


def init_app(app: Flask, api: Api) -> QueryContract:
    """The query contract of `api`'s document, kept on the app for the request hook."""
    contract = QueryContract(api)
    app.extensions["query_contract"] = contract
    return contract
