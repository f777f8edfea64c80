"""Rescoring with new rubric versions, and the progress of that background work."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from notereader.api.deps import Analyst, RuntimeDep, SessionDep
from notereader.api.schemas import RescoreIn
from notereader.api.visibility import not_found
from notereader.service import rescoring

router = APIRouter(prefix="/v1", tags=["rescoring"])


@router.post("/rescore", status_code=202)
def start_rescore(body: RescoreIn, principal: Analyst, rt: RuntimeDep) -> Any:
    """Analyse, with the active rubric set, every note whose latest revision has no analysis under it
    (optionally only notes written since a time). Old analyses are kept; the newest is served."""
    try:
        started = rescoring.start_rescore(rt, actor=principal.actor, role=principal.role,
                                          rubric_ids=body.rubric_ids, since=body.since)
    except rescoring.UnknownRubrics as exc:
        return JSONResponse(status_code=422, content={"detail": [{
            "field": "rubric_ids", "message": str(exc), "type": "unknown_rubric"}]})
    return {"job_id": started.job_id, "status_url": f"/v1/jobs/{started.job_id}", "ruleset_sha256": started.ruleset_sha256}


@router.get("/jobs/{job_id}")
def job_status(job_id: str, principal: Analyst, session: SessionDep, rt: RuntimeDep) -> Any:
    """Progress of a rescore: revisions it covers, and how many are analysed under its ruleset."""
    progress = rescoring.rescore_progress(session, rt, job_id)
    if progress is None:
        return not_found("job", job_id)
    return progress
