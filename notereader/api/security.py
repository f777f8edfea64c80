"""Response hardening: security headers on every response, and CORS only when configured.

Every response gets ``X-Content-Type-Options: nosniff``, ``X-Frame-Options:
DENY``, ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``
(API bodies carry note text, flags and audit records, which must not linger
in browser or proxy caches). A response without its own
``Content-Security-Policy`` gets one: JSON responses ``default-src 'none';
frame-ancestors 'none'`` (nothing in them should ever run or load), other
responses (OpenAPI docs, HTML pages that did not set a policy) at least
``frame-ancestors 'none'``. A header a route set itself is never replaced,
so a page can send its own, stricter or looser, CSP and Cache-Control.

CORS is off unless ``NOTEREADER_CORS_ALLOW_ORIGINS`` lists origins: with
the default, no ``Access-Control-Allow-*`` header is ever sent, so browsers
refuse cross-origin reads of the API.

Values the store cannot hold are refused before they reach it: a NUL
character in the path or query string is a 422 here, and a value the
database rejects as out of range or unstorable (``DataError``: a NUL in a
body field on PostgreSQL, say) is a 422, never a 500.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notereader.settings import Settings

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CSP_JSON = "default-src 'none'; frame-ancestors 'none'"
CSP_OTHER = "frame-ancestors 'none'"
log = logging.getLogger("notereader.api")


class SecurityHeaders:
    """Adds the headers above to every HTTP response that does not already carry them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
            raw = json.dumps({"detail": [{"field": "url", "type": "nul_character",
                                          "message": "the path or query string contains a NUL character"}]}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
            headers += [(k.lower().encode(), v.encode()) for k, v in ALWAYS.items()]
            headers.append((b"content-security-policy", CSP_JSON.encode()))
            await send({"type": "http.response.start", "status": 422, "headers": headers})
            await send({"type": "http.response.body", "body": raw})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    if name not in headers:
                        headers[name] = value
                if "content-security-policy" not in headers:
                    is_json = headers.get("content-type", "").startswith("application/json")
                    headers["Content-Security-Policy"] = CSP_JSON if is_json else CSP_OTHER
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def unstorable_value(_request: Request, exc: DataError) -> JSONResponse:
    """The database refused a value (out of range, or a NUL on PostgreSQL): the caller's input, so 422."""
    log.warning("refused a value the database cannot store: %s", type(exc.orig).__name__ if exc.orig else "DataError")
    return JSONResponse(status_code=422, content={"detail": [{
        "field": "body", "type": "unstorable_value",
        "message": "a value cannot be stored (out of range, or it contains a NUL character); nothing was stored"}]})


def install(app: FastAPI, settings: Settings) -> None:
    """Add the security headers and, if origins are configured, CORS for exactly those origins.

    Call after every other middleware is added, so these wrap all of them
    (an early 413/415 from the body limit gets the headers too).
    """
    from notereader.api.openapi_errors import document_errors

    document_errors(app)
    app.add_exception_handler(DataError, unstorable_value)  # type: ignore[arg-type]
    if settings.cors_allow_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_allow_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    app.add_middleware(SecurityHeaders)
