"""Who may see which record: a case system its own notes, a supervisor their teams', an auditor all.

A record the caller may not see is answered exactly like a missing one
(404), so its existence is not revealed; the refusal is still audited, in
the request's own transaction (which commits, since the route returns).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from notereader.api.deps import record_refusal
from notereader.service.auth import Principal
from notereader.service.runtime import Runtime


def may_see(principal: Principal, *, team: str, source: str) -> bool:
    if principal.role == "case_system":
        return source == principal.name and principal.sees_team(team)
    if principal.role == "supervisor":
        return principal.sees_team(team)
    return principal.role in ("auditor", "admin")


def not_found(what: str, key: str) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": f"no {what} {key!r}"})


def hidden(session: Session, rt: Runtime, request: Request, principal: Principal, what: str, key: str) -> JSONResponse:
    """Audit the refusal, then answer exactly as if the record did not exist."""
    record_refusal(session, rt, request, 404, f"{what} belongs to another team or case system", principal,
                   target=f"{what}:{key}")
    return not_found(what, key)
