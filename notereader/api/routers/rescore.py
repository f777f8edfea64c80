"""Rescoring with new rubric versions, and the progress of that background work."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter
from rq.exceptions import NoSuchJobError
from rq.job import Job
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from notereader.api.deps import Analyst, RuntimeDep, SessionDep
from notereader.api.schemas import RescoreIn
from notereader.api.visibility import not_found
from notereader.service import audit
from notereader.store.models import Analysis, RescoreJob
from notereader.store.types import utcnow

router = APIRouter(prefix="/v1", tags=["rescoring"])


@router.post("/rescore", status_code=202)
def start_rescore(body: RescoreIn, principal: Analyst, rt: RuntimeDep) -> Any:
    """Analyse, with the active rubric set, every note whose latest revision has no analysis under it
    (optionally only notes written since a time). Old analyses are kept; the newest is served."""
    ruleset = rt.ruleset
    known = {r.id for r in ruleset.rubrics}
    unknown = sorted(set(body.rubric_ids or []) - known)
    if unknown:
        return JSONResponse(status_code=422, content={"detail": [{
            "field": "rubric_ids", "message": f"not in the active rubric set: {', '.join(unknown)}", "type": "unknown_rubric"}]})
    now = utcnow()
    rescore_id = "rescore-" + hashlib.sha256(f"{ruleset.sha256} {now.isoformat()} {principal.actor}".encode()).hexdigest()[:16]
    with rt.sessions() as session, session.begin():
        session.add(RescoreJob(id=rescore_id, rubric_ids=sorted(body.rubric_ids or []), since=body.since,
                               ruleset_sha256=ruleset.sha256, revision_ids=[], status="queued",
                               requested_by=principal.actor, created_at=now))
        audit.append(session, actor=principal.actor, role=principal.role, action="rescore.start",
                     target=f"job:{rescore_id}", detail={"ruleset_sha256": ruleset.sha256, "rubric_ids": body.rubric_ids,
                                                         "since": body.since.isoformat() if body.since else None})
    rt.queue.enqueue("notereader.service.jobs.rescore", rescore_id, job_id=rescore_id, description=f"rescore {rescore_id}")
    return {"job_id": rescore_id, "status_url": f"/v1/jobs/{rescore_id}", "ruleset_sha256": ruleset.sha256}


@router.get("/jobs/{job_id}")
def job_status(job_id: str, principal: Analyst, session: SessionDep, rt: RuntimeDep) -> Any:
    """Progress of a rescore: revisions it covers, and how many are analysed under its ruleset."""
    job = session.get(RescoreJob, job_id)
    if job is None:
        return not_found("job", job_id)
    total = len(job.revision_ids)
    done = 0
    if total:
        done = session.scalar(select(func.count(func.distinct(Analysis.revision_id))).where(
            Analysis.revision_id.in_(job.revision_ids), Analysis.ruleset_sha256 == job.ruleset_sha256)) or 0
    status, error = job.status, None
    if status == "running" and done == total:
        status = "finished"
    elif status == "queued":
        try:
            rq_job = Job.fetch(job_id, connection=rt.redis)
            if rq_job.is_failed:
                status, error = "failed", (rq_job.latest_result().exc_string or "").strip().splitlines()[-1:]
        except NoSuchJobError:
            pass
    return {"job_id": job.id, "status": status, "total": total, "done": done, "rubric_ids": job.rubric_ids,
            "since": job.since, "ruleset_sha256": job.ruleset_sha256, "requested_by": job.requested_by,
            "created_at": job.created_at, "error": error}
