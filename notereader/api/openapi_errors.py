"""The OpenAPI document states the error responses the API really gives.

FastAPI documents every 422 with its own ``HTTPValidationError`` shape
(``loc``, ``msg``, ``type``) and nothing else. notereader answers bad input
with ``{"detail": [{"field", "message", "type"}]}`` (see ``app.py``), and any
route behind a bearer token can answer 401, 403 and 429. This rewrites the
generated document once, so clients and schema-driven tests (schemathesis)
see what the API actually sends:

* the 422 schema is the field/message/type shape;
* operations that need a token also list 401, 403 and 429;
* operations with a path parameter list 404; with a JSON body, 400 (not
  JSON), 413 (too large) and 415 (not application/json).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

FIELD_ERROR = {
    "title": "FieldError", "type": "object", "required": ["field", "message", "type"],
    "properties": {"field": {"type": "string", "description": "the bad field, e.g. text, plan.goals[0].text"},
                   "message": {"type": "string"}, "type": {"type": "string"}},
}
FIELD_ERRORS = {"title": "FieldErrors", "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}}}
DETAIL = {"title": "ErrorDetail", "type": "object", "required": ["detail"],
          "properties": {"detail": {"description": "what was wrong and what to do"}}}


def _response(description: str, schema: str = "ErrorDetail", **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
            **extra}


AUTH_RESPONSES = {
    "401": _response("no token, or an unknown, revoked or expired one",
                     headers={"WWW-Authenticate": {"schema": {"type": "string"}}}),
    "403": _response("the token's role may not do this"),
    "429": _response("the token is over its per-minute rate limit",
                     headers={"Retry-After": {"description": "seconds until the limit resets", "schema": {"type": "integer"}}}),
}
BODY_RESPONSES = {
    "400": _response("the body is not valid JSON", "FieldErrors"),
    "413": _response("the body is over NOTEREADER_MAX_BODY_BYTES"),
    "415": _response("the body is not application/json"),
}


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe the error responses above (computed once, then cached by FastAPI)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("ValidationError", None)
        schemas.update({"FieldError": FIELD_ERROR, "HTTPValidationError": FIELD_ERRORS, "FieldErrors": FIELD_ERRORS,
                        "ErrorDetail": DETAIL})
        for path, item in doc.get("paths", {}).items():
            for op in item.values():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                extra: dict[str, Any] = {}
                if op.get("security"):
                    extra |= AUTH_RESPONSES
                if "{" in path:
                    extra["404"] = _response("no such record, or one the caller may not see")
                if "requestBody" in op:
                    extra |= BODY_RESPONSES
                if "422" in op["responses"] or op.get("parameters") or "requestBody" in op:
                    extra["422"] = _response("a field is invalid; each bad field is named", "FieldErrors")
                for code, resp in extra.items():
                    op["responses"].setdefault(code, resp)
                    if code == "422":
                        op["responses"]["422"] = resp
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
