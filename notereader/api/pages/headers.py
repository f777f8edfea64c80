"""Security headers for the pages (and their static files); the JSON API is left as it is.

A strict Content-Security-Policy (scripts and styles only from this origin,
no inline script), no framing, no MIME sniffing, no referrer to other
origins, and no caching of pages that show note text.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGES_PREFIX = "/pages"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class PageSecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PAGES_PREFIX and not path.startswith(PAGES_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        static = path.startswith(PAGES_PREFIX + "/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS + (
                    [] if static else [(b"cache-control", b"no-store")])
            await send(message)

        await self.app(scope, receive, with_headers)
