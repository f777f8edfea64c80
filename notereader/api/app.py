"""The FastAPI application: routers, request limits and error shapes.

Every error body is JSON. Validation errors are 422 with
``{"detail": [{"field", "message", "type"}]}`` naming each bad field (the
submitted value is never echoed back: it may be note text). Broken JSON is
400, a non-JSON body 415, a body over the configured limit 413; none of
them stores or enqueues anything. The pages under /pages (see
``notereader.api.pages``) answer in HTML and also accept form posts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notereader.api import security
from notereader.api.pages import mount_pages
from notereader.api.routers import audit, exports, flags, notes, ops, rescore, rubrics, tokens, webhooks
from notereader.service.runtime import Runtime
from notereader.version import ENGINE_VERSION

log = logging.getLogger("notereader.api")
BODY_METHODS = {"POST", "PUT", "PATCH"}
# The pages' forms post these; the JSON API accepts only application/json.
PAGE_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class BodyLimit:
    """413 for bodies over the limit, 415 for bodies that are not JSON, before any route runs."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_json(send, 413, {"detail": f"request body is {length} bytes; the limit is {self.max_bytes}"})
            return
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        page_form = scope["path"].startswith("/pages/") and ctype in PAGE_FORM_TYPES
        if (length is None or length != "0") and ctype != "application/json" and not page_form:
            await _send_json(send, 415, {"detail": f"content type {ctype or '(none)'!r} is not accepted; send application/json"})
            return
        # Read the whole body (at most max_bytes) before any route sees it, so an
        # oversized body is refused without a route ever acting on part of it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            seen += len(body)
            if seen > self.max_bytes:
                await _send_json(send, 413, {"detail": f"request body exceeds the limit of {self.max_bytes} bytes"})
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        e = next(e for e in errors if e.get("type") == "json_invalid")
        return JSONResponse(status_code=400, content={"detail": [{"field": "body", "type": "json_invalid",
                                                                  "message": f"the body is not valid JSON: {e.get('ctx', {}).get('error', e['msg'])}"}]})
    detail = []
    for e in errors:
        msg = str(e.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        detail.append({"field": _field(tuple(e.get("loc", ()))), "message": msg, "type": e.get("type")})
    return JSONResponse(status_code=422, content={"detail": detail})


async def database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
    return JSONResponse(status_code=503, headers={"Retry-After": "5"},
                        content={"detail": "the database is unavailable; nothing was stored. Retry shortly."})


async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail
    if exc.status_code == 400 and isinstance(detail, str):
        # FastAPI's own 400 for a body it cannot decode at all (not UTF-8, say): the same shape as broken JSON.
        detail = [{"field": "body", "type": "json_invalid", "message": f"the body is not valid JSON: {detail}"}]
    return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=getattr(exc, "headers", None))


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="notereader",
        version=ENGINE_VERSION,
        description="Case-note intelligence: notes in, risk flags, themes and goal signals out, each traced to its "
                    "exact sentences. Authenticate with `Authorization: Bearer <token>` (`notereader tokens create`).",
    )
    app.state.runtime = runtime
    for r in (notes.router, flags.router, audit.router, rescore.router, rubrics.router, tokens.router, webhooks.router,
              ops.router, exports.router):
        app.include_router(r)
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, database_unavailable)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_body_bytes)
    mount_pages(app)  # HTML pages under /pages, with their own security headers
    security.install(app, runtime.settings)  # outermost: headers on every response, CORS only if configured
    return app


def app_from_environment() -> FastAPI:
    """The app for one of several API processes (``notereader serve --workers N``): settings from the environment.

    Each process builds its own Runtime (engine pool, Redis connection) from the same NOTEREADER_* variables;
    the parent has already applied migrations and started any private Redis.
    """
    from notereader.service_cli import _runtime, load_settings

    settings = load_settings()
    if settings.redis_url is None:
        raise RuntimeError("NOTEREADER_REDIS_URL must be set for API worker processes (notereader serve sets it)")
    return create_app(_runtime(settings, settings.redis_url))
