"""Page sessions: a signed, stateless cookie that names an API token, re-checked on every request.

Signing in with an API token sets ``nr_session``: ``base64(json) . HMAC-SHA256``
over ``{"tid": token id, "csrf": random, "iat": issued at}``, keyed by a key
derived from the signing secret. The cookie is HttpOnly, SameSite=Strict and
Secure outside development. Every request re-reads the token row by id, so a
revoked token ends its sessions at once; no session table is needed.

Every form POST carries the session's ``csrf`` value in a hidden field,
compared in constant time. The sign-in form itself is protected the same way
by a short-lived pre-session cookie (``nr_signin``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from notereader.service.auth import Principal, principal_for_id
from notereader.service.runtime import Runtime

SESSION_COOKIE = "nr_session"
SIGNIN_COOKIE = "nr_signin"
SESSION_SECONDS = 8 * 3600
SIGNIN_SECONDS = 15 * 60


def _key(rt: Runtime) -> bytes:
    return hmac.new(rt.settings.signing_secret.encode(), b"notereader page session v1", hashlib.sha256).digest()


def sign(rt: Runtime, payload: dict[str, Any]) -> str:
    raw = base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode()).decode().rstrip("=")
    mac = hmac.new(_key(rt), raw.encode(), hashlib.sha256).hexdigest()
    return f"{raw}.{mac}"


def unsign(rt: Runtime, value: str | None, max_age: int) -> dict[str, Any] | None:
    """The payload of a cookie this service signed and that is younger than ``max_age``; else None."""
    if not value or "." not in value:
        return None
    raw, mac = value.rsplit(".", 1)
    if not hmac.compare_digest(mac, hmac.new(_key(rt), raw.encode(), hashlib.sha256).hexdigest()):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("iat"), int):
        return None
    if not 0 <= time.time() - payload["iat"] <= max_age:
        return None
    return payload


@dataclass(frozen=True)
class PageSession:
    principal: Principal
    csrf: str


def current(rt: Runtime, session: Session, request: Request) -> PageSession | None:
    """The signed-in session, if its cookie is valid and its token still exists and is not revoked."""
    payload = unsign(rt, request.cookies.get(SESSION_COOKIE), SESSION_SECONDS)
    if payload is None or not isinstance(payload.get("tid"), int) or not isinstance(payload.get("csrf"), str):
        return None
    principal = principal_for_id(session, payload["tid"])
    return None if principal is None else PageSession(principal, payload["csrf"])


def _set(rt: Runtime, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/pages", httponly=True, samesite="strict",
                        secure=not rt.settings.is_development)


def start(rt: Runtime, response: Response, token_id: int) -> None:
    _set(rt, response, SESSION_COOKIE, sign(rt, {"tid": token_id, "csrf": secrets.token_urlsafe(24),
                                                 "iat": int(time.time())}), SESSION_SECONDS)
    response.delete_cookie(SIGNIN_COOKIE, path="/pages")


def end(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/pages")


def signin_csrf(rt: Runtime, request: Request) -> tuple[str, bool]:
    """The sign-in form's CSRF value (the pre-session cookie's, or a new one) and whether it is new."""
    payload = unsign(rt, request.cookies.get(SIGNIN_COOKIE), SIGNIN_SECONDS)
    if payload is not None and isinstance(payload.get("csrf"), str):
        return str(payload["csrf"]), False
    return secrets.token_urlsafe(24), True


def set_signin_csrf(rt: Runtime, response: Response, value: str) -> None:
    _set(rt, response, SIGNIN_COOKIE, sign(rt, {"csrf": value, "iat": int(time.time())}), SIGNIN_SECONDS)


def signin_csrf_ok(rt: Runtime, request: Request, submitted: str | None) -> bool:
    payload = unsign(rt, request.cookies.get(SIGNIN_COOKIE), SIGNIN_SECONDS)
    return payload is not None and csrf_ok(str(payload.get("csrf", "")), submitted)


def csrf_ok(expected: str, submitted: str | None) -> bool:
    return bool(expected) and submitted is not None and hmac.compare_digest(expected.encode(), submitted.encode())
