"""The supervisor's pages: the risk queue (with its live update), a flag with its note, and a client's timeline."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from notereader.api.deps import RuntimeDep, SessionDep
from notereader.api.pages.common import (
    SEVERITY_LABEL,
    SignedIn,
    check_csrf,
    hidden_page,
    highlight,
    need_role,
    not_found_page,
    render,
)
from notereader.api.pages.session import PageSession
from notereader.api.schemas import ReviewIn
from notereader.api.visibility import may_see
from notereader.service import audit
from notereader.service.reviews import CLOSED, FlagClosed, review_flag
from notereader.service.riskqueue import OPEN_STATUSES, QueueFilter, queue_counts, queue_select
from notereader.service.runtime import Runtime
from notereader.store.models import Analysis, Client, Flag, Note, NoteRevision, Plan

router = APIRouter(prefix="/pages", include_in_schema=False)
STATUSES = ("open", "acknowledged", "escalated", "dismissed", "resolved", "withdrawn")
QUEUE_LIMIT = 200


def _day(value: str, field: str, errors: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(0), tzinfo=timezone.utc)
    except ValueError:
        errors.append(f"{field}: {value!r} is not a date (YYYY-MM-DD)")
        return None


def _queue_filter(ps: PageSession, q: dict[str, str], rubric_ids: set[str]) -> tuple[QueueFilter, list[str]]:
    errors: list[str] = []
    severity = q.get("severity", "")
    if severity and severity not in SEVERITY_LABEL:
        errors.append(f"severity: {severity!r} is not one of critical, high, medium")
        severity = ""
    status = q.get("status", "")
    if status and status != "all" and status not in STATUSES:
        errors.append(f"status: {status!r} is not a flag status")
        status = ""
    rubric = q.get("rubric", "")
    if rubric and rubric not in rubric_ids:
        errors.append(f"rubric: {rubric!r} is not an active risk rubric")
        rubric = ""
    since = _day(q.get("since", ""), "from", errors)
    until = _day(q.get("until", ""), "to", errors)
    statuses = STATUSES if status == "all" else ((status,) if status else OPEN_STATUSES)
    return QueueFilter(teams=ps.principal.teams, statuses=statuses, severities=(severity,) if severity else (),
                       client_id=q.get("client") or None, rubric_id=rubric or None, author_id=q.get("worker") or None,
                       since=since, until=until + timedelta(days=1) if until else None), errors


def _queue_data(session: Session, rt: Runtime, ps: PageSession, request: Request) -> dict[str, Any]:
    q = {k: v.strip() for k, v in request.query_params.items() if k in
         ("severity", "status", "rubric", "client", "worker", "since", "until")}
    risk_rubrics = [r for r in rt.ruleset.rubrics if r.kind == "risk"]
    f, errors = _queue_filter(ps, q, {r.id for r in risk_rubrics})
    rows = session.execute(queue_select(f).limit(QUEUE_LIMIT)).all()
    counts = queue_counts(session, f)
    titles = {r.id: r.title for r in risk_rubrics}
    items = [{"flag": fl, "note": n, "client": c, "title": titles.get(fl.rubric_id, fl.rubric_id),
              "quote": (fl.finding.citations[0]["quote"] if fl.finding.citations else "")} for fl, n, c in rows]
    ids = [i["flag"].id for i in items]
    return {"q": q, "errors": errors, "items": items, "counts": counts, "severities": list(SEVERITY_LABEL),
            "statuses": STATUSES, "rubrics": risk_rubrics, "limit": QUEUE_LIMIT,
            "version": hashlib.sha256(json.dumps([ids, sorted((k[0], k[1], v) for k, v in counts.items()),
                                                  [i["flag"].status for i in items]]).encode()).hexdigest()[:16]}


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep) -> Response:
    need_role(rt, request, ps, "supervisor")
    data = _queue_data(session, rt, ps, request)
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="risk_queue.read", target=None,
                 detail={"teams": list(ps.principal.teams), "flags": [i["flag"].id for i in data["items"]], "page": True})
    return render(request, "queue.html", 422 if data["errors"] else 200, ps, **data)


@router.get("/queue/live", response_class=HTMLResponse)
def queue_live(request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep, seen: str = "") -> Response:
    """The queue's live part (counts and rows) for the page's script; 204 when nothing changed since ``seen``."""
    need_role(rt, request, ps, "supervisor")
    data = _queue_data(session, rt, ps, request)
    if seen == data["version"]:
        return Response(status_code=204)
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="risk_queue.read", target=None,
                 detail={"teams": list(ps.principal.teams), "flags": [i["flag"].id for i in data["items"]], "page": True})
    return render(request, "_queue_live.html", 200, ps, **data)


def _visible_flag(session: Session, rt: Runtime, request: Request, ps: PageSession, flag_id: int) -> Flag | Response:
    flag = session.get(Flag, flag_id)
    if flag is None:
        return not_found_page(request, "flag", str(flag_id), ps)
    if not ps.principal.sees_team(flag.team):
        return hidden_page(session, rt, request, ps, "flag", str(flag_id))
    return flag


def _flag_page(request: Request, session: Session, rt: Runtime, ps: PageSession, flag: Flag, status: int = 200,
               error: str | None = None, done: str | None = None) -> Response:
    finding = flag.finding
    revision = finding.analysis.revision
    body = json.loads(finding.analysis.body)
    rubrics = rt.ruleset.by_id()
    citations = sorted(finding.citations, key=lambda c: c["start"])
    suppressed = sorted(body.get("suppressed", []), key=lambda s: (s["rubric_id"] != flag.rubric_id, s["citations"][0]["start"]))
    latest = max(r.revision for r in flag.finding.analysis.revision.note.revisions)
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="flag.read", target=f"flag:{flag.id}",
                 detail={"note_id": flag.note_id, "revision": revision.revision, "page": True})
    return render(request, "flag.html", status, ps, flag=flag, note=revision.note, revision=revision,
                  latest_revision=latest, pieces=highlight(revision.text, [(c["start"], c["end"]) for c in citations]),
                  citations=citations, suppressed=suppressed, title=rubrics[flag.rubric_id].title if flag.rubric_id in rubrics
                  else flag.rubric_id, titles={r.id: r.title for r in rt.ruleset.rubrics}, closed=flag.status in CLOSED,
                  error=error, done=done, form_reason="")


@router.get("/flags/{flag_id}", response_class=HTMLResponse)
def flag_page(flag_id: int, request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep,
              done: str | None = None) -> Response:
    need_role(rt, request, ps, "supervisor")
    flag = _visible_flag(session, rt, request, ps, flag_id)
    if isinstance(flag, Response):
        return flag
    return _flag_page(request, session, rt, ps, flag, done=done if done in ("acknowledge", "escalate", "dismiss", "resolve") else None)


@router.post("/flags/{flag_id}/review", response_class=HTMLResponse)
def flag_review(flag_id: int, request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep,
                action: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
                csrf: Annotated[str, Form()] = "") -> Response:
    need_role(rt, request, ps, "supervisor")
    check_csrf(rt, request, ps, csrf)
    flag = session.scalar(select(Flag).where(Flag.id == flag_id).with_for_update())
    if flag is None:
        return not_found_page(request, "flag", str(flag_id), ps)
    if not ps.principal.sees_team(flag.team):
        return hidden_page(session, rt, request, ps, "flag", str(flag_id))
    try:
        body = ReviewIn(action=action, reason=reason.strip() or None)  # type: ignore[arg-type]
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        return _flag_page(request, session, rt, ps, flag, 422, error=f"Not saved: {message}")
    try:
        review_flag(session, flag, body.action, body.reason, ps.principal)
    except FlagClosed as exc:
        return _flag_page(request, session, rt, ps, flag, 409, error=f"Not saved: {exc}")
    return RedirectResponse(f"/pages/flags/{flag_id}?done={body.action}", status_code=303)


@router.get("/clients/{client_id}", response_class=HTMLResponse)
def client_page(client_id: str, request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep) -> Response:
    """Every note, flag and goal signal for one client, oldest first, with each plan goal's signals."""
    need_role(rt, request, ps, "supervisor", "auditor")
    client = session.get(Client, client_id)
    if client is None:
        return not_found_page(request, "client", client_id, ps)
    if not may_see(ps.principal, team=client.team, source=client.source):
        return hidden_page(session, rt, request, ps, "client", client_id)
    plan = session.scalar(select(Plan).where(Plan.client_id == client_id).order_by(Plan.version.desc()).limit(1))
    notes = session.scalars(select(Note).where(Note.client_id == client_id).order_by(Note.written_at, Note.note_id)).all()
    flags = session.scalars(select(Flag).where(Flag.client_id == client_id)).all()
    titles = {r.id: r.title for r in rt.ruleset.rubrics}
    goal_texts = {g["goal_id"]: g["text"] for g in (plan.goals if plan else [])}
    goals: dict[str, dict[str, Any]] = {gid: {"text": text, "signals": []} for gid, text in goal_texts.items()}
    entries = []
    for note in notes:
        rev: NoteRevision = note.revisions[-1]
        row = session.scalar(select(Analysis).where(Analysis.revision_id == rev.id).order_by(Analysis.id.desc()).limit(1))
        analysis = json.loads(row.body) if row is not None else None
        for g in (analysis or {}).get("goals", []):
            goals.setdefault(g["goal_id"], {"text": g["goal_id"], "signals": []})["signals"].append(
                {"note": note, "direction": g["direction"], "quotes": [c["quote"] for c in g["citations"]]})
        entries.append({"note": note, "revision": rev, "analysis": analysis,
                        "flags": sorted((f for f in flags if f.note_id == note.note_id), key=lambda f: -f.severity_rank)})
    for g in goals.values():
        g["progress"] = sum(s["direction"] == "progress" for s in g["signals"])
        g["setbacks"] = sum(s["direction"] == "setback" for s in g["signals"])
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="client.timeline.read",
                 target=f"client:{client_id}", detail={"notes": [n.note_id for n in notes], "page": True})
    return render(request, "client.html", 200, ps, client=client, plan=plan, entries=entries, goals=goals, titles=titles)
