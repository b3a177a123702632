"""OpenAPI document tweaks: problem+json error bodies and the errors every operation can answer."""

from __future__ import annotations

import http
from typing import Any

from apispec import APISpec, BasePlugin

from monitor_api.docs.examples import Examples, operation_id
from monitor_api.errors import PROBLEM_MIME

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_WRITES = ("post", "put", "patch", "delete")


def register_problem_responses(spec: APISpec, error_schema: Any) -> None:
    """Lazily register one response per HTTP status (and DEFAULT_ERROR) as problem+json."""
    for status in http.HTTPStatus:
        response: dict[str, Any] = {"description": status.phrase}
        if status >= 400:
            response["content"] = {PROBLEM_MIME: {"schema": error_schema}}
        spec.components.response(status.name, response, lazy=True)
    spec.components.response(
        "DEFAULT_ERROR",
        {"description": "Any other error (RFC 9457 problem details)",
         "content": {PROBLEM_MIME: {"schema": error_schema}}},
        lazy=True,
    )


def _error_codes(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses the shared machinery (auth, parsing, commit) can give this operation."""
    codes: list[int] = []
    if operation.get("security"):
        codes += [401, 403]
    if "{" in path:
        codes.append(404)
    if "requestBody" in operation:
        codes += [400, 413, 415]
    codes.append(422)  # any operation: an undocumented query parameter (monitor_api.inputs)
    if method in _WRITES:
        codes.append(409)  # the commit can still meet a conflicting concurrent write
    if any(p.get("in") == "header" and str(p.get("name", "")).lower() == "if-match"
           for p in operation.get("parameters", []) if isinstance(p, dict)):
        codes += [412, 428]
    return codes


class ProblemResponsesPlugin(BasePlugin):
    """Document the error responses every operation can give, with problem+json bodies."""

    def operation_helper(self, path: str | None = None,
                         operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            present = {str(code) for code in responses}
            for code in _error_codes(path or "", method, operation):
                if str(code) not in present:
                    responses[code] = http.HTTPStatus(code).name
                    present.add(str(code))
            for code, response in responses.items():
                # An alt_response with only a description still answers problem+json.
                if (str(code)[0] in "45" and isinstance(response, dict)
                        and "content" not in response and "$ref" not in response):
                    response["content"] = {PROBLEM_MIME: {"schema": PROBLEM_REF}}


class OperationDocsPlugin(BasePlugin):
    """Every operation gets an `operationId` (unless it names its own) and an example for
    each JSON body it takes or answers (unless it has one), built from the body's schema."""

    examples: Examples

    def init_spec(self, spec: APISpec) -> None:
        self.examples = Examples(spec.components.schemas)

    def operation_helper(self, path: str | None = None,
                         operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        examples = self.examples
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict):
                continue
            if rule is not None and "operationId" not in operation:
                operation["operationId"] = operation_id(rule.endpoint, method, path or "")
            bodies = [operation.get("requestBody")] + [
                r for code, r in operation.get("responses", {}).items() if str(code)[0] == "2"]
            for body in bodies:
                if not isinstance(body, dict):
                    continue
                for mime, media in body.get("content", {}).items():
                    if ("json" in mime and isinstance(media, dict) and "schema" in media
                            and media["schema"].get("format") != "binary"  # a file
                            and "example" not in media and "examples" not in media):
                        media["example"] = examples.value(media["schema"])
