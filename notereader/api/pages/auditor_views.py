"""The auditor's pages: recent flags across teams, and the trace of one finding with a "re-run now" check."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from notereader.api.deps import RuntimeDep, SessionDep
from notereader.api.pages.common import SignedIn, check_csrf, highlight, need_role, not_found_page, render
from notereader.service import audit
from notereader.service.trace import rubric_diff, trace_finding
from notereader.service.whatif import enqueue_rerun, job_state
from notereader.store.models import Finding, Flag

router = APIRouter(prefix="/pages", include_in_schema=False)
RECENT = 100


@router.get("/audit", response_class=HTMLResponse)
def audit_home(request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep, note: str = "") -> Response:
    """The newest flags of every team (or one note's), each linked to the trace of its finding."""
    need_role(rt, request, ps, "auditor")
    q = select(Flag).order_by(Flag.created_at.desc(), Flag.id.desc()).limit(RECENT)
    if note.strip():
        q = q.where(Flag.note_id == note.strip())
    flags = session.scalars(q).all()
    titles = {r.id: r.title for r in rt.ruleset.rubrics}
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="flags.list", target=None,
                 detail={"flags": [f.id for f in flags], "page": True})
    return render(request, "audit.html", 200, ps, flags=flags, titles=titles, note=note.strip())


def _check_id(finding: Finding, check: str | None) -> str | None:
    """Only a re-run check of this finding's own analysis is shown on its page."""
    if check and re.fullmatch(rf"rerun-{finding.analysis_id}-[0-9a-f]{{12}}", check):
        return check
    return None


@router.get("/findings/{finding_id}/trace", response_class=HTMLResponse)
def trace_page(finding_id: int, request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep,
               check: str | None = None) -> Response:
    need_role(rt, request, ps, "auditor")
    finding = session.get(Finding, finding_id)
    if finding is None:
        return not_found_page(request, "finding", str(finding_id), ps)
    traced = trace_finding(finding)
    diff = rubric_diff(finding, rt.ruleset)
    paragraphs = []
    for c in traced["citations"]:
        p = c["paragraph"]
        paragraphs.append({"citation": c, "pieces": highlight(p["text"], [(c["start"] - p["start"], c["end"] - p["start"])])})
    check_id = _check_id(finding, check)
    state, result = job_state(rt, check_id) if check_id else (None, None)
    flag = session.scalar(select(Flag).where(Flag.finding_id == finding_id).limit(1))
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="finding.trace",
                 target=f"finding:{finding_id}", detail={"note_id": traced["note"]["note_id"],
                                                         "revision": traced["note"]["revision"],
                                                         "analysis_id": traced["analysis"]["analysis_id"], "page": True})
    title = next((r.title for r in rt.ruleset.rubrics if r.id == finding.rubric_id), finding.rubric_id or finding.goal_id)
    return render(request, "trace.html", 200, ps, t=traced, diff=diff, paragraphs=paragraphs, title=title, flag=flag,
                  check_id=check_id, check_state=state, check_result=result)


@router.post("/findings/{finding_id}/rerun")
def rerun(finding_id: int, request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep,
          csrf: Annotated[str, Form()] = "") -> Response:
    """Queue a re-analysis of the finding's note revision on a worker and show whether it reproduces."""
    need_role(rt, request, ps, "auditor")
    check_csrf(rt, request, ps, csrf)
    finding = session.get(Finding, finding_id)
    if finding is None:
        return not_found_page(request, "finding", str(finding_id), ps)
    job_id = enqueue_rerun(rt, finding.analysis_id)
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="finding.rerun",
                 target=f"finding:{finding_id}", detail={"analysis_id": finding.analysis_id, "job_id": job_id})
    return RedirectResponse(f"/pages/findings/{finding_id}/trace?check={job_id}", status_code=303)
