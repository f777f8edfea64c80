"""The risk queue and flag reviews, for supervisors of the flag's team."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy import and_, or_, select

from notereader.api.deps import RuntimeDep, SessionDep, Supervisor
from notereader.api.schemas import FlagItem, RowId, FlagOut, FlagStatus, ReviewIn, ReviewOut, RiskQueuePage, Severity
from notereader.api.visibility import hidden, not_found
from notereader.service import audit
from notereader.service.results import SEVERITY_RANK
from notereader.service.reviews import FlagClosed
from notereader.service.reviews import review_flag as apply_review
from notereader.service.riskqueue import QueueFilter, queue_select
from notereader.store.models import Client, Flag, Note

router = APIRouter(prefix="/v1", tags=["risk queue"])


def _encode_cursor(flag: Flag) -> str:
    raw = json.dumps([flag.severity_rank, flag.written_at.isoformat(), flag.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    try:
        rank, written, fid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(rank), datetime.fromisoformat(written), int(fid)
    except (ValueError, TypeError) as exc:
        raise HTTPException(422, [{"field": "cursor", "message": "is not a cursor this API gave out", "type": "value_error"}]) from exc


def _item(flag: Flag, note: Note, client: Client, title: str | None) -> FlagItem:
    citations = flag.finding.citations
    return FlagItem(flag_id=flag.id, status=flag.status, rubric_id=flag.rubric_id, title=title,  # type: ignore[arg-type]
                    severity=flag.severity, score=flag.finding.score, finding_id=flag.finding_id,  # type: ignore[arg-type]
                    note={"note_id": note.note_id, "written_at": note.written_at.isoformat(), "author_id": note.author_id,
                          "team": note.team},
                    client={"client_id": client.client_id, "team": client.team},
                    quote=citations[0] if citations else {}, created_at=flag.created_at, updated_at=flag.updated_at)


@router.get("/risk-queue", response_model=RiskQueuePage)
def risk_queue(
    principal: Supervisor, session: SessionDep, rt: RuntimeDep,
    team: Annotated[list[str] | None, Query(description="teams to include (default: all of the token's teams)")] = None,
    min_severity: Annotated[Severity, Query(description="lowest severity to include")] = "medium",
    status: Annotated[list[FlagStatus] | None, Query(description="flag statuses (default: open, acknowledged, escalated)")] = None,
    client_id: Annotated[str | None, Query(description="one client's flags")] = None,
    since: Annotated[datetime | None, Query(description="notes written at or after")] = None,
    until: Annotated[datetime | None, Query(description="notes written before")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> RiskQueuePage:
    """Open flags, most severe first, then the most recently written note first."""
    teams = list(principal.teams)
    if team:
        outside = sorted(set(team) - set(teams))
        if outside:
            raise HTTPException(422, [{"field": "team", "message": f"not one of this token's teams: {', '.join(outside)}",
                                       "type": "team_not_allowed"}])
        teams = team
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, [{"field": name, "message": "needs a timezone, e.g. 2026-11-20T00:00:00Z", "type": "value_error"}])
    q = queue_select(QueueFilter(teams=tuple(teams), statuses=tuple(status) if status else QueueFilter.statuses,
                                 min_rank=SEVERITY_RANK[min_severity], client_id=client_id, since=since, until=until))
    if cursor:
        rank, written, fid = _decode_cursor(cursor)
        q = q.where(or_(Flag.severity_rank < rank,
                        and_(Flag.severity_rank == rank, Flag.written_at < written),
                        and_(Flag.severity_rank == rank, Flag.written_at == written, Flag.id > fid)))
    q = q.limit(limit + 1)
    rows = session.execute(q).all()
    titles = {r.id: r.title for r in rt.ruleset.rubrics}
    items = [_item(f, n, c, titles.get(f.rubric_id)) for f, n, c in rows[:limit]]
    audit.append(session, actor=principal.actor, role=principal.role, action="risk_queue.read", target=None,
                 detail={"teams": teams, "flags": [i.flag_id for i in items]})
    return RiskQueuePage(items=items, next_cursor=_encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None)


def _flag_out(flag: Flag) -> FlagOut:
    return FlagOut(flag_id=flag.id, status=flag.status, rubric_id=flag.rubric_id, severity=flag.severity,  # type: ignore[arg-type]
                   note_id=flag.note_id, client_id=flag.client_id, team=flag.team,
                   history=[ReviewOut(action=r.action, reason=r.reason, actor=r.actor, from_status=r.from_status,
                                      to_status=r.to_status, at=r.at) for r in flag.reviews])


@router.get("/flags/{flag_id}", response_model=FlagOut)
def get_flag(flag_id: RowId, principal: Supervisor, session: SessionDep, rt: RuntimeDep, request: Request) -> Any:
    """One flag with its whole review history."""
    flag = session.get(Flag, flag_id)
    if flag is None:
        return not_found("flag", str(flag_id))
    if not principal.sees_team(flag.team):
        return hidden(session, rt, request, principal, "flag", str(flag_id))
    audit.append(session, actor=principal.actor, role=principal.role, action="flag.read", target=f"flag:{flag_id}")
    return _flag_out(flag)


@router.post("/flags/{flag_id}/review", response_model=FlagOut,
             responses={409: {"description": "the flag is closed"}, 422: {"description": "a dismiss needs a reason"}})
def review_flag(flag_id: RowId, body: ReviewIn, principal: Supervisor, session: SessionDep, rt: RuntimeDep,
                request: Request) -> Any:
    """Acknowledge, escalate, dismiss (with a reason) or resolve a flag; every review stays in its history."""
    flag = session.scalar(select(Flag).where(Flag.id == flag_id).with_for_update())
    if flag is None:
        return not_found("flag", str(flag_id))
    if not principal.sees_team(flag.team):
        return hidden(session, rt, request, principal, "flag", str(flag_id))
    try:
        apply_review(session, flag, body.action, body.reason, principal)
    except FlagClosed as exc:
        return Response(status_code=409, media_type="application/json", content=json.dumps({"detail": [{
            "field": "action", "message": str(exc), "type": "conflict"}]}))
    return _flag_out(flag)
