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
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
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


class SecurityHeaders:
    """Adds the headers above to every HTTP response that does not already carry them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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


def install(app: FastAPI, settings: Settings) -> None:
    """Add the security headers and, if origins are configured, CORS for exactly those origins.

    Call after every other middleware is added, so these wrap all of them
    (an early 413/415 from the body limit gets the headers too).
    """
    if settings.cors_allow_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_allow_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    app.add_middleware(SecurityHeaders)
