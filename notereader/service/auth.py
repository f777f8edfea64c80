"""API tokens and roles.

A token is ``nr_`` + ``secrets.token_urlsafe(32)`` (256 random bits), shown
once, when it is created; the store keeps only HMAC-SHA256(pepper, token).
Roles say what a token may do; supervisor tokens (and optionally case-system
tokens) are limited to their teams. A token can be revoked, and can be given
an expiry; a revoked or expired token is refused.

Why the lookup is constant-time in the secret: the presented token is never
compared with a stored secret character by character. It is first hashed
with the server-side pepper, and the database is searched for that digest.
An attacker who times the lookup learns, at most, how long a prefix of an
HMAC digest of *their own guess* matches some stored digest, which tells
them nothing about any real token (finding a guess whose digest shares a
prefix with a real one needs the pepper and is a preimage search on
SHA-256). The row found is then checked once more with
``hmac.compare_digest``, so no code path compares secret material with
``==``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from notereader.store.models import ApiToken
from notereader.store.types import utcnow

ROLES = ("case_system", "supervisor", "analyst", "auditor", "admin")
TOKEN_PREFIX = "nr_"  # nosec B105 # a public prefix that marks notereader tokens, not a secret
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, name, role and teams (empty = not limited by team)."""

    token_id: int
    name: str
    role: str
    teams: tuple[str, ...]

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}#{self.token_id}"

    def sees_team(self, team: str) -> bool:
        return not self.teams or team in self.teams


class TokenRefused(Exception):
    """The presented token may not be used; ``str(exc)`` says why, for the 401 body."""


def hash_token(token: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def create_token(session: Session, *, role: str, name: str, teams: list[str], pepper: str,
                 expires_in_days: float | None = None) -> tuple[ApiToken, str]:
    """Store a new token's hash and return the row and the token (the only time it exists in clear)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role == "supervisor" and not teams:
        raise ValueError("a supervisor token needs at least one --team: supervisors see only their teams' records")
    if expires_in_days is not None and not 0 < expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"expires_in_days must be more than 0 and at most {MAX_EXPIRY_DAYS}; got {expires_in_days}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days is not None else None
    row = ApiToken(name=name, role=role, teams=sorted(set(teams)), token_hash=hash_token(token, pepper), created_at=now,
                   expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def _usable(row: ApiToken | None, now: datetime | None = None) -> Principal:
    """The principal of a token row that may still be used (one place for every validity rule).

    Raises ``TokenRefused`` saying why not: unknown, revoked or expired.
    """
    if row is None:
        raise TokenRefused("the API token is unknown")
    if row.revoked_at is not None:
        raise TokenRefused("the API token was revoked; ask an admin for a new one")
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        raise TokenRefused(f"the API token expired at {row.expires_at.isoformat(timespec='seconds')}; "
                           "ask an admin for a new one")
    return Principal(row.id, row.name, row.role, tuple(row.teams))


def authenticate_row(session: Session, token: str, pepper: str,
                     now: datetime | None = None) -> tuple[Principal, datetime | None]:
    """The principal behind ``token`` and the token's expiry; raises ``TokenRefused`` for an unknown,
    revoked or expired one."""
    digest = hash_token(token, pepper)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if row is not None and not hmac.compare_digest(row.token_hash, digest):
        row = None
    principal = _usable(row, now)
    assert row is not None  # nosec B101 # type narrowing: _usable refused a missing row
    return principal, row.expires_at


def authenticate(session: Session, token: str, pepper: str, now: datetime | None = None) -> Principal:
    """The principal behind ``token``; raises ``TokenRefused`` for an unknown, revoked or expired one."""
    return authenticate_row(session, token, pepper, now)[0]


def principal_for_id(session: Session, token_id: int) -> Principal | None:
    """The principal of token ``token_id`` if it may still be used (a page session re-checks it on every request)."""
    try:
        return _usable(session.get(ApiToken, token_id))
    except TokenRefused:
        return None
