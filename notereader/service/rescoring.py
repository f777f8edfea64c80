"""Starting a rescore and reading its progress: shared by ``POST /v1/rescore``, ``GET /v1/jobs/{id}`` and
``notereader rescore``.

A rescore is a ``RescoreJob`` row plus one RQ job (``notereader.service.jobs.rescore``)
that a worker runs: it lists the note revisions with no analysis under the
active ruleset (only those a changed rubric touches, with ``rubric_ids``) and
queues them in batches of ``queueing.RESCORE_BATCH`` (one job analyses a batch
together, ~1.5x the rate of one job per note). Progress is counted from the
store, so it is the same whoever asks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notereader.service import audit
from notereader.service.runtime import Runtime
from notereader.store.models import Analysis, RescoreJob
from notereader.store.types import utcnow


class UnknownRubrics(ValueError):
    """Rubric ids asked for that are not in the active rubric set."""

    def __init__(self, unknown: list[str]) -> None:
        super().__init__(f"not in the active rubric set: {', '.join(unknown)}")
        self.unknown = unknown


@dataclass(frozen=True)
class RescoreStarted:
    job_id: str
    ruleset_sha256: str


def start_rescore(rt: Runtime, *, actor: str, role: str, rubric_ids: list[str] | None = None,
                  since: datetime | None = None) -> RescoreStarted:
    """Record a rescore (and its audit record) in one transaction, then enqueue it for a worker.

    Raises ``UnknownRubrics`` before anything is stored when a rubric id is not active.
    """
    ruleset = rt.ruleset
    known = {r.id for r in ruleset.rubrics}
    unknown = sorted(set(rubric_ids or []) - known)
    if unknown:
        raise UnknownRubrics(unknown)
    now = utcnow()
    rescore_id = "rescore-" + hashlib.sha256(f"{ruleset.sha256} {now.isoformat()} {actor}".encode()).hexdigest()[:16]
    with rt.sessions() as session, session.begin():
        session.add(RescoreJob(id=rescore_id, rubric_ids=sorted(rubric_ids or []), since=since,
                               ruleset_sha256=ruleset.sha256, revision_ids=[], status="queued",
                               requested_by=actor, created_at=now))
        audit.append(session, actor=actor, role=role, action="rescore.start", target=f"job:{rescore_id}",
                     detail={"ruleset_sha256": ruleset.sha256, "rubric_ids": rubric_ids,
                             "since": since.isoformat() if since else None})
    rt.queue.enqueue("notereader.service.jobs.rescore", rescore_id, job_id=rescore_id, description=f"rescore {rescore_id}")
    return RescoreStarted(rescore_id, ruleset.sha256)


def rescore_progress(session: Session, rt: Runtime, job_id: str) -> dict[str, Any] | None:
    """A rescore's status, total and done (revisions analysed under its ruleset); None if unknown.

    ``status`` is queued (the worker has not listed its revisions yet), running,
    finished (done == total) or failed (the listing job gave up; ``error`` says why).
    """
    job = session.get(RescoreJob, job_id)
    if job is None:
        return None
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
                result = rq_job.latest_result()
                error = ((result.exc_string if result else "") or "").strip().splitlines()[-1:]
                status = "failed"
        except NoSuchJobError:
            pass
    return {"job_id": job.id, "status": status, "total": total, "done": done, "rubric_ids": job.rubric_ids,
            "since": job.since, "ruleset_sha256": job.ruleset_sha256, "requested_by": job.requested_by,
            "created_at": job.created_at, "error": error}
