"""API tokens, for admins: create (shown once, optionally expiring) and revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import event

from notereader.api.deps import Admin, RuntimeDep, SessionDep
from notereader.api.schemas import RowId, TokenCreated, TokenIn
from notereader.api.visibility import not_found
from notereader.service import audit
from notereader.service.auth import create_token
from notereader.service.token_cache import note_revocation
from notereader.store.models import ApiToken
from notereader.store.types import utcnow

router = APIRouter(prefix="/v1", tags=["tokens"])


@router.post("/tokens", status_code=201, response_model=TokenCreated)
def new_token(body: TokenIn, principal: Admin, session: SessionDep, rt: RuntimeDep) -> Any:
    """Create a token; the response is the only place its value ever appears."""
    unknown = sorted(set(body.teams) - set(rt.settings.teams))
    if unknown:
        return JSONResponse(status_code=422, content={"detail": [{"field": "teams", "message": f"unknown team(s): {', '.join(unknown)}", "type": "unknown_team"}]})
    try:
        row, token = create_token(session, role=body.role, name=body.name, teams=body.teams, pepper=rt.settings.token_pepper,
                                  expires_in_days=body.expires_in_days)
    except ValueError as exc:
        return JSONResponse(status_code=422, content={"detail": [{"field": "teams", "message": str(exc), "type": "value_error"}]})
    audit.append(session, actor=principal.actor, role=principal.role, action="token.create", target=f"token:{row.id}",
                 detail={"role": row.role, "name": row.name, "teams": row.teams,
                         "expires_at": row.expires_at.isoformat() if row.expires_at else None})
    return TokenCreated(token_id=row.id, name=row.name, role=row.role, teams=row.teams, expires_at=row.expires_at,
                        token=token)


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(token_id: RowId, principal: Admin, session: SessionDep, rt: RuntimeDep) -> Response:
    """Revoke a token; calls with it get 401 from now on, on every API process."""
    row = session.get(ApiToken, token_id)
    if row is None:
        return not_found("token", str(token_id))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.append(session, actor=principal.actor, role=principal.role, action="token.revoke", target=f"token:{token_id}")
        # every API process's token cache drops its entries once the revocation is committed (not before:
        # a process could otherwise cache the still-valid row again under the new counter)
        event.listen(session, "after_commit", lambda _s: note_revocation(rt.redis), once=True)
    return Response(status_code=204)
