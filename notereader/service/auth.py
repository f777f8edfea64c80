"""API tokens and roles.

A token is shown once, when it is created; the store keeps only
HMAC-SHA256(pepper, token). Roles say what a token may do; supervisor tokens
(and optionally case-system tokens) are limited to their teams.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from notereader.store.models import ApiToken
from notereader.store.types import utcnow

ROLES = ("case_system", "supervisor", "analyst", "auditor", "admin")
TOKEN_PREFIX = "nr_"


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


def hash_token(token: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def create_token(session: Session, *, role: str, name: str, teams: list[str], pepper: str) -> tuple[ApiToken, str]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role == "supervisor" and not teams:
        raise ValueError("a supervisor token needs at least one --team: supervisors see only their teams' records")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, role=role, teams=sorted(set(teams)), token_hash=hash_token(token, pepper), created_at=utcnow())
    session.add(row)
    session.flush()
    return row, token


def _usable(row: ApiToken | None) -> Principal | None:
    """The principal of a token row that may still be used (one place for every validity rule)."""
    if row is None or row.revoked_at is not None:
        return None
    return Principal(row.id, row.name, row.role, tuple(row.teams))


def authenticate(session: Session, token: str, pepper: str) -> Principal | None:
    return _usable(session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token, pepper))))


def principal_for_id(session: Session, token_id: int) -> Principal | None:
    """The principal of token ``token_id`` if it may still be used (a page session re-checks it on every request)."""
    return _usable(session.get(ApiToken, token_id))
