"""Dependencies shared by the routers: the runtime, a database session, and who is calling.

``Caller`` checks the bearer token and the role a route needs (a token accepted
recently is served from ``service/token_cache.py``, which sees revocations at once). A missing,
unknown, revoked or expired token is 401, a token of the wrong role 403; both refusals are
written to the audit log before the error is returned. A token over its
per-minute rate limit gets 429 with Retry-After (counted, not audited).
"""

from __future__ import annotations

from typing import Annotated, Callable, Iterator

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from notereader.api.schemas import KNOWN_TEAMS
from notereader.service import audit, metrics, ratelimit
from notereader.service.auth import Principal, TokenRefused
from notereader.service.runtime import Runtime
from notereader.service.token_cache import read_generation

bearer = HTTPBearer(auto_error=False, description="an API token from `notereader tokens create`")


async def get_runtime(request: Request) -> Runtime:
    """The process's Runtime (async: a plain attribute read needs no worker thread)."""
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def known_teams(request: Request) -> None:
    """Let body validation name an unknown team (async: runs in the request's own context)."""
    KNOWN_TEAMS.set(tuple(request.app.state.runtime.settings.teams))


def get_session(rt: RuntimeDep) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with rt.sessions() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def record_refusal(session: Session, rt: Runtime, request: Request, status: int, message: str,
                   principal: Principal | None, target: str | None = None) -> None:
    """Audit one refused call in ``session``'s transaction and count it."""
    audit.append(session, actor=principal.actor if principal else "anonymous",
                 role=principal.role if principal else None, action=f"{request.method} {request.url.path}",
                 target=target, outcome=f"refused:{status}", detail={"reason": message})
    metrics.incr(rt.redis, "requests_refused")


def refuse(rt: Runtime, request: Request, status: int, message: str, principal: Principal | None,
           target: str | None = None) -> HTTPException:
    """Audit a refused call (in its own transaction) and build the error to raise."""
    with rt.sessions() as session, session.begin():
        record_refusal(session, rt, request, status, message, principal, target)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, message, headers=headers)


def require(*roles: str) -> Callable[..., Principal]:
    def dependency(request: Request, rt: RuntimeDep,
                   creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
        if creds is None or not creds.credentials:
            raise refuse(rt, request, 401, "an API token is required: send `Authorization: Bearer <token>`", None)
        try:
            # a token accepted recently is not looked up again unless a revocation happened since
            # (service/token_cache.py); the counter is read before any lookup
            generation = read_generation(rt.redis) if rt.settings.token_cache_seconds > 0 else None
            principal = (rt.principals.cached(creds.credentials, generation)
                         or rt.principals.lookup(creds.credentials, generation))
        except TokenRefused as exc:
            raise refuse(rt, request, 401, str(exc), None) from None
        limit = rt.settings.rate_limit_per_minute
        verdict = ratelimit.check(rt.redis, principal.token_id, limit)
        if not verdict.allowed:
            # Not audited: a client stuck in a loop would otherwise flood the audit log.
            metrics.incr(rt.redis, "requests_rate_limited")
            raise HTTPException(429, f"this token made more than {limit} calls this minute; "
                                     f"retry after {verdict.retry_after} s",
                                headers={"Retry-After": str(verdict.retry_after)})
        if principal.role not in roles:
            raise refuse(rt, request, 403, f"the {principal.role} role may not do this; it needs one of: {', '.join(roles)}",
                         principal)
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


CaseSystem = Annotated[Principal, Depends(require("case_system"))]
NoteReader = Annotated[Principal, Depends(require("case_system", "supervisor", "auditor"))]
Supervisor = Annotated[Principal, Depends(require("supervisor"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Auditor = Annotated[Principal, Depends(require("auditor"))]
Admin = Annotated[Principal, Depends(require("admin"))]
