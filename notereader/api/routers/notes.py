"""Notes and plans: what case systems post, and the analyses they read back."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select

from notereader.api.deps import (
    CaseSystem,
    NoteReader,
    RuntimeDep,
    SessionDep,
    known_teams,
    refuse,
)
from notereader.api.schemas import (
    NoteAccepted,
    NoteIn,
    NoteOut,
    Pending,
    PlanOut,
    PlanPut,
    RevisionOut,
)
from notereader.api.visibility import hidden, may_see, not_found
from notereader.service import audit
from notereader.service.ingest import (
    Conflict,
    NotVisible,
    latest_revision,
    set_plan,
)
from notereader.service.ingest_batch import Post
from notereader.service.queueing import analysis_job_id
from notereader.store.models import Analysis, Client, Note

log = logging.getLogger("notereader.api")
INGEST_WAIT_SECONDS = 60.0
router = APIRouter(prefix="/v1", tags=["notes"], dependencies=[Depends(known_teams)])


def _unknown_team(rt: RuntimeDep, team: str) -> JSONResponse | None:
    if team in rt.settings.teams:
        return None
    return JSONResponse(status_code=422, content={"detail": [{
        "field": "team", "message": f"unknown team {team!r}; known teams: {', '.join(rt.settings.teams)}",
        "type": "unknown_team"}]})


def _conflict(exc: Conflict) -> JSONResponse:
    return JSONResponse(status_code=409, content={"detail": [{"field": exc.field, "message": exc.message, "type": "conflict"}]})


@router.post("/notes", status_code=202, response_model=NoteAccepted,
             responses={200: {"model": NoteAccepted, "description": "the same note_id and text were posted before"},
                        409: {"description": "contradicts the stored note or client"},
                        413: {"description": "body too large"}, 415: {"description": "not application/json"},
                        422: {"description": "invalid field, named in detail[].field"},
                        503: {"description": "the database is unavailable or did not store the note in time; "
                                             "nothing was stored; retry after Retry-After seconds"}})
async def post_note(body: NoteIn, principal: CaseSystem, rt: RuntimeDep, request: Request) -> Response:
    """Store a note revision and queue its analysis. Same note_id and text again: 200 with the same body."""
    if not principal.sees_team(body.team):
        return JSONResponse(status_code=422, content={"detail": [{
            "field": "team", "message": f"this token may post only for teams {', '.join(principal.teams)}",
            "type": "team_not_allowed"}]})
    # Stored by this process's writer thread together with whatever else was posted at the same moment
    # (one transaction, one commit: service/ingest_batch.py); answered only once that has committed.
    # Async: the request waits on the writer's future without holding a worker thread.
    outcome = rt.ingest_writer.submit(Post(body.model_dump(), principal.name, principal.actor, principal.role))
    try:
        stored = await asyncio.wait_for(asyncio.wrap_future(outcome), INGEST_WAIT_SECONDS)
    except asyncio.TimeoutError:
        # a post still waiting for the writer is cancelled (never stored); one the writer has begun may
        # still commit, which a repeat post then answers 200
        return JSONResponse(status_code=503, headers={"Retry-After": "5"}, content={"detail": [{
            "field": None, "message": f"the note was not stored within {INGEST_WAIT_SECONDS:.0f} s (the database is "
                                      "slow or busy); send it again: a repeat of a stored note is answered 200",
            "type": "store_timeout"}]})
    except NotVisible:
        await run_in_threadpool(refuse, rt, request, 404, "note or client belongs to another case system", principal,
                                target=f"note:{body.note_id}")
        return not_found("note", body.note_id)
    except Conflict as exc:
        return _conflict(exc)
    accepted = NoteAccepted(note_id=stored.note_id, revision=stored.revision, text_sha256=stored.text_sha256,
                            note_url=f"/v1/notes/{stored.note_id}", status_url=f"/v1/notes/{stored.note_id}/analysis")
    # A new revision's analysis was queued by the writer, for the whole batch at once (if Redis was down,
    # the sweeper queues it when Redis is back).
    return JSONResponse(status_code=202 if stored.created else 200, content=accepted.model_dump())


def job_gave_up(rt: RuntimeDep, revision_id: int) -> bool:
    try:
        return Job.fetch(analysis_job_id(revision_id, rt.ruleset.sha256), connection=rt.redis).is_failed
    except NoSuchJobError:
        return False
    except Exception:  # Redis unreachable: report pending, the sweeper will retry
        return False


def _visible_note(session: SessionDep, rt: RuntimeDep, request: Request, principal: NoteReader,
                  note_id: str) -> Note | Response:
    note = session.get(Note, note_id)
    if note is None:
        return not_found("note", note_id)
    if not may_see(principal, team=note.team, source=note.source):
        return hidden(session, rt, request, principal, "note", note_id)
    return note


@router.get("/notes/{note_id}", response_model=NoteOut, responses={404: {"description": "unknown (or not yours)"}})
def get_note(note_id: str, principal: NoteReader, session: SessionDep, rt: RuntimeDep, request: Request) -> Any:
    """The note as stored: the latest revision's text, exactly as received, and every revision."""
    note = _visible_note(session, rt, request, principal, note_id)
    if isinstance(note, Response):
        return note
    latest = note.revisions[-1]
    analysed = session.scalar(select(Analysis.id).where(Analysis.revision_id == latest.id).limit(1)) is not None
    audit.append(session, actor=principal.actor, role=principal.role, action="note.read", target=f"note:{note_id}",
                 detail={"revision": latest.revision})
    return NoteOut(note_id=note.note_id, client_id=note.client_id, team=note.team, author_id=note.author_id,
                   written_at=note.written_at, text=latest.text, revision=latest.revision,
                   text_sha256=latest.text_sha256, analysis_status="analysed" if analysed else "pending",
                   revisions=[RevisionOut(revision=r.revision, text_sha256=r.text_sha256, received_at=r.received_at,
                                          plan_version=r.plan.version if r.plan else None) for r in note.revisions])


@router.get("/notes/{note_id}/analysis",
            responses={200: {"description": "Analysis v1, byte for byte what `notereader analyze` gives"},
                       202: {"model": Pending, "description": "not analysed yet"}, 404: {"description": "unknown"}})
def get_analysis(note_id: str, principal: NoteReader, session: SessionDep, rt: RuntimeDep, request: Request) -> Response:
    """The newest analysis of the note's latest revision (202 while it is pending)."""
    note = _visible_note(session, rt, request, principal, note_id)
    if isinstance(note, Response):
        return note
    rev = latest_revision(session, note_id)
    assert rev is not None  # nosec B101 # type narrowing; _visible_note returned a note, and every note has a revision
    row = session.scalar(select(Analysis).where(Analysis.revision_id == rev.id).order_by(Analysis.id.desc()).limit(1))
    if row is None:
        pending = Pending(note_id=note_id, revision=rev.revision, detail="queued for analysis; poll again")
        if job_gave_up(rt, rev.id):
            pending = Pending(status="failed", note_id=note_id, revision=rev.revision,
                              detail="the analysis failed on every retry; operators see it in RQ's failed registry, "
                                     "and a rescore queues it again")
        return JSONResponse(status_code=202, content=pending.model_dump())
    audit.append(session, actor=principal.actor, role=principal.role, action="analysis.read", target=f"note:{note_id}",
                 detail={"revision": rev.revision, "analysis_id": row.id, "fingerprint": row.fingerprint})
    return Response(content=row.body.encode("utf-8"), media_type="application/json",
                    headers={"X-Notereader-Fingerprint": row.fingerprint})


@router.put("/clients/{client_id}/plan", response_model=PlanOut,
            responses={404: {"description": "unknown client (or not yours)"}})
def put_plan(client_id: str, body: PlanPut, principal: CaseSystem, session: SessionDep, rt: RuntimeDep,
             request: Request) -> Any:
    """Set the client's plan; a changed list of goals becomes a new plan version, used by notes posted after it.

    A client notereader has not seen yet is created; it then needs ``team``."""
    client = session.get(Client, client_id)
    if client is None:
        if body.team is None:
            return JSONResponse(status_code=422, content={"detail": [{
                "field": "team", "message": f"client {client_id!r} is new to notereader: give its team", "type": "missing"}]})
        bad = _unknown_team(rt, body.team)
        if bad is not None:
            return bad
        team = body.team
    elif client.source != principal.name or not principal.sees_team(client.team):
        return hidden(session, rt, request, principal, "client", client_id)
    else:
        team = client.team
    try:
        plan, created = set_plan(session, client_id, team, principal.name, [g.model_dump() for g in body.goals])
    except Conflict as exc:
        return _conflict(exc)
    if created:
        audit.append(session, actor=principal.actor, role=principal.role, action="plan.set", target=f"client:{client_id}",
                     detail={"version": plan.version, "goals": len(plan.goals)})
    return PlanOut(client_id=client_id, version=plan.version, goals=plan.goals, created_at=plan.created_at)  # type: ignore[arg-type]

