"""Audit: trace a finding to its paragraph, rubric text and model files; read and verify the log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from notereader.api.deps import Auditor, SessionDep
from notereader.api.schemas import AfterId, RowId
from notereader.api.visibility import not_found
from notereader.service import audit
from notereader.service.trace import trace_finding
from notereader.store.models import AuditRecord, Finding

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/findings/{finding_id}/trace")
def trace(finding_id: RowId, principal: Auditor, session: SessionDep) -> Any:
    """Everything behind one finding: the cited text re-verified against the stored note,
    the rubric's text at the version used, and the model and ruleset provenance."""
    finding = session.get(Finding, finding_id)
    if finding is None:
        return not_found("finding", str(finding_id))
    traced = trace_finding(finding)
    audit.append(session, actor=principal.actor, role=principal.role, action="finding.trace", target=f"finding:{finding_id}",
                 detail={"note_id": traced["note"]["note_id"], "revision": traced["note"]["revision"],
                         "analysis_id": traced["analysis"]["analysis_id"]})
    return traced


@router.get("/audit")
def audit_log(principal: Auditor, session: SessionDep,
              action: Annotated[str | None, Query(description="e.g. note.read, flag.review, finding.trace")] = None,
              actor: Annotated[str | None, Query()] = None,
              target: Annotated[str | None, Query(description="e.g. note:N-1, flag:7")] = None,
              outcome: Annotated[str | None, Query(description="ok, or refused:401 / refused:403 / refused:404")] = None,
              since: Annotated[datetime | None, Query()] = None,
              until: Annotated[datetime | None, Query()] = None,
              after_seq: AfterId = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Audit records in order, filtered; page with after_seq."""
    q = select(AuditRecord).where(AuditRecord.seq > after_seq)
    for col, value in ((AuditRecord.action, action), (AuditRecord.actor, actor), (AuditRecord.target, target),
                       (AuditRecord.outcome, outcome)):
        if value is not None:
            q = q.where(col == value)
    if since is not None:
        q = q.where(AuditRecord.at >= since)
    if until is not None:
        q = q.where(AuditRecord.at < until)
    rows = session.scalars(q.order_by(AuditRecord.seq).limit(limit)).all()
    records = [{"seq": r.seq, "at": r.at, "actor": r.actor, "role": r.role, "action": r.action, "target": r.target,
                "outcome": r.outcome, "detail": r.detail, "hash": r.hash} for r in rows]
    audit.append(session, actor=principal.actor, role=principal.role, action="audit.read", target=None,
                 detail={"records": len(records)})
    return {"records": records, "next_after_seq": rows[-1].seq if len(rows) == limit else None}


@router.post("/audit/verify")
def verify(principal: Auditor, session: SessionDep) -> dict[str, Any]:
    """Recompute the hash chain; any edited or deleted record is reported."""
    checked, problems = audit.verify(session)
    audit.append(session, actor=principal.actor, role=principal.role, action="audit.verify", target=None,
                 detail={"checked": checked, "problems": len(problems)})
    return {"intact": not problems, "checked": checked, "problems": [str(p) for p in problems]}
