"""De-identified exports for analysts: current findings with their cited sentences masked.

Analysts calibrate rubrics on what the service found, but need no one's
identity to do it. ``GET /v1/exports/findings`` returns the findings of each
note's current analysis (newest analysis of its latest revision) with:

* cited sentences passed through ``notereader.service.deidentify`` (names,
  phone numbers, e-mails, street addresses and dates masked);
* note and client ids replaced by keyed pseudonyms (HMAC with the token
  pepper, so they are stable across exports but cannot be reversed by
  guessing ids), and the note's date cut to its month;
* no character offsets, no paragraph text, no author.

Each export is written to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import and_, func, select

from notereader.api.deps import Analyst, RuntimeDep, SessionDep
from notereader.api.schemas import AfterId, ExportCitation, ExportFinding, ExportPage
from notereader.service import audit
from notereader.service.deidentify import default_deidentifier
from notereader.store.models import Analysis, Finding, Note, NoteRevision

router = APIRouter(prefix="/v1", tags=["exports"])


def pseudonym(secret: str, kind: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:20]


@router.get("/exports/findings", response_model=ExportPage)
def export_findings(principal: Analyst, session: SessionDep, rt: RuntimeDep,
                    kind: Literal["risk", "theme", "goal"] | None = None,
                    rubric_id: Annotated[str | None, Query(max_length=100)] = None,
                    team: Annotated[str | None, Query(max_length=100)] = None,
                    after: AfterId = 0,
                    limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Any:
    """Current findings, de-identified, oldest finding first; page with `after`."""
    latest_rev = (select(NoteRevision.note_id, func.max(NoteRevision.revision).label("rev"))
                  .group_by(NoteRevision.note_id).subquery())
    newest = select(Analysis.revision_id, func.max(Analysis.id).label("aid")).group_by(Analysis.revision_id).subquery()
    q = (select(Finding, NoteRevision, Note)
         .join(Analysis, Finding.analysis_id == Analysis.id)
         .join(newest, newest.c.aid == Analysis.id)
         .join(NoteRevision, NoteRevision.id == Analysis.revision_id)
         .join(latest_rev, and_(latest_rev.c.note_id == NoteRevision.note_id, latest_rev.c.rev == NoteRevision.revision))
         .join(Note, Note.note_id == NoteRevision.note_id)
         .where(Finding.id > after).order_by(Finding.id).limit(limit))
    if kind:
        q = q.where(Finding.kind == kind)
    if rubric_id:
        q = q.where(Finding.rubric_id == rubric_id)
    if team:
        q = q.where(Note.team == team)
    if principal.teams:
        q = q.where(Note.team.in_(principal.teams))
    rows = session.execute(q).all()
    deid = default_deidentifier()
    secret = rt.settings.token_pepper
    items = []
    for finding, revision, note in rows:
        citations = []
        for c in finding.citations:
            masked = deid.mask(c["quote"])
            citations.append(ExportCitation(quote=masked.text, masked=list(masked.entities)))
        rv = finding.rubric_version
        items.append(ExportFinding(
            finding_id=finding.id, kind=finding.kind, rubric_id=finding.rubric_id,
            rubric_version=rv.version if rv else None, goal_id=finding.goal_id, severity=finding.severity,
            direction=finding.direction, score=finding.score, team=note.team,
            note_ref=pseudonym(secret, "note", note.note_id), client_ref=pseudonym(secret, "client", note.client_id),
            written_month=note.written_at.strftime("%Y-%m"), citations=citations))
    audit.append(session, actor=principal.actor, role=principal.role, action="export.findings",
                 detail={"count": len(items), "after": after, "kind": kind, "rubric_id": rubric_id, "team": team})
    next_after = items[-1].finding_id if len(items) == limit else None
    return ExportPage(items=items, next_after=next_after)
