"""RQ job functions. They run inside ``notereader worker``, which loads the pipeline once.

Jobs carry only ids (never note text), so nothing sensitive sits in Redis or
in the worker's log lines.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from rq import get_current_job
from sqlalchemy import select

from notereader.notes import Note
from notereader.service import metrics
from notereader.service.queueing import enqueue_batches, unanalysed_revisions
from notereader.service.results import record_rubric_versions, write_analysis
from notereader.service.runtime import Runtime
from notereader.service.webhooks import deliver
from notereader.settings import get_settings
from notereader.store.models import Analysis, NoteRevision, RescoreJob

log = logging.getLogger("notereader.jobs")


@dataclass
class WorkerContext:
    """What a worker process loads once: connections, the Reader, the stored rubric versions."""

    runtime: Runtime
    reader: Any
    rubric_version_ids: dict[str, int]
    load_id: str
    pid: int

    @classmethod
    def load(cls, runtime: Runtime) -> "WorkerContext":
        from notereader.reader import Reader

        s = runtime.settings
        started = time.monotonic()
        reader = Reader(runtime.ruleset, s.models_dir, model=s.model, num_threads=s.encoder_threads)
        ids = record_rubric_versions(runtime.sessions, reader.ruleset)
        metrics.incr(runtime.redis, "pipeline_loads")
        ctx = cls(runtime, reader, ids, uuid.uuid4().hex, os.getpid())
        log.info("pipeline loaded in %.1f s (ruleset %s, model %s)", time.monotonic() - started,
                 reader.ruleset.sha256[:12], reader.embedder.manifest.sha256[:12])
        return ctx


_context: WorkerContext | None = None


def install(ctx: WorkerContext) -> None:
    global _context
    _context = ctx


def context() -> WorkerContext:
    """The worker's loaded context; a plain ``rq worker`` loads it on its first job."""
    global _context
    if _context is None:
        from notereader.service.redis_server import resolve_redis_url

        settings = get_settings()
        _context = WorkerContext.load(Runtime(settings, resolve_redis_url(settings, start=False)))
    return _context


def _final_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _store_result(ctx: WorkerContext, revision_id: int, analysis: dict[str, Any], seconds: float,
                  source: str) -> dict[str, Any]:
    """Write one analysis (once per ruleset and model), count it and queue its write-back."""
    rt = ctx.runtime
    written = write_analysis(rt.sessions, revision_id, analysis, seconds, ctx.rubric_version_ids,
                             rt.settings.webhooks.get(source))
    if written.created:
        metrics.incr(rt.redis, "notes_analysed")
        metrics.observe_latency(rt.redis, seconds)
    if written.delivery_id is not None:
        rt.enqueue_delivery(written.delivery_id)
    return {"analysis_id": written.analysis_id, "created": written.created, "fingerprint": analysis["fingerprint"]}


def _note_of(rev: NoteRevision) -> Note:
    goals = tuple((g["goal_id"], g["text"]) for g in (rev.plan.goals if rev.plan else []))
    return Note(rev.note_id, rev.text, goals)


def analyze_revision(revision_id: int) -> dict[str, Any]:
    ctx = context()
    rt = ctx.runtime
    with rt.sessions() as session:
        rev = session.get(NoteRevision, revision_id)
        if rev is None:
            raise LookupError(f"note revision {revision_id} is not in the store")
        note, source = _note_of(rev), rev.note.source
    started = time.perf_counter()
    try:
        analysis = ctx.reader.analyze(note)
    except Exception:
        metrics.incr(rt.redis, "analysis_failures")
        raise
    out = _store_result(ctx, revision_id, analysis, time.perf_counter() - started, source)
    return out | {"worker_pid": ctx.pid, "load_id": ctx.load_id}


def analyze_revisions(revision_ids: list[int]) -> dict[str, Any]:
    """Analyse a rescore's batch of revisions together (``queueing.enqueue_batches``).

    Revisions that already have an analysis under this worker's ruleset and model are skipped, and one
    that is no longer stored is logged and skipped. If the batch's analysis raises, the revisions not yet
    written are queued as jobs of their own, each with its own retries and its own place in RQ's failed
    registry, so one note that breaks the reader does not hold back (or hide) the rest. Each analysis
    records the batch's time divided by the notes analysed.
    """
    ctx = context()
    rt = ctx.runtime
    ruleset_sha, model_sha = ctx.reader.ruleset.sha256, ctx.reader.embedder.manifest.sha256
    with rt.sessions() as session:
        revs = {r.id: r for r in session.scalars(select(NoteRevision).where(NoteRevision.id.in_(revision_ids)))}
        done = set(session.scalars(select(Analysis.revision_id).where(
            Analysis.revision_id.in_(revision_ids), Analysis.ruleset_sha256 == ruleset_sha,
            Analysis.model_sha256 == model_sha)))
        todo = [(rid, _note_of(revs[rid]), revs[rid].note.source) for rid in revision_ids
                if rid in revs and rid not in done]
    gone = [rid for rid in revision_ids if rid not in revs]
    if gone:
        log.warning("rescore batch: %d note revision(s) no longer in the store: %s", len(gone), gone[:10])
    written: list[int] = []
    started = time.perf_counter()
    try:
        analyses = list(ctx.reader.analyze_many([note for _rid, note, _src in todo], batch_size=max(1, len(todo))))
        seconds = (time.perf_counter() - started) / max(1, len(todo))
        for (rid, _note, source), analysis in zip(todo, analyses):
            _store_result(ctx, rid, analysis, seconds, source)
            written.append(rid)
    except Exception:
        metrics.incr(rt.redis, "analysis_failures")
        done_now = set(written)
        rest = [rid for rid, _n, _s in todo if rid not in done_now]
        log.exception("rescore batch failed after %d of %d; queueing the other %d one by one",
                      len(written), len(todo), len(rest))
        job = get_current_job()
        for rid in rest:
            rt.enqueue_analysis(rid, ruleset_sha, resubmit_failed=True, meta=dict(job.meta) if job else None)
    else:
        rest = []
    return {"analysed": len(written), "skipped": len(done), "requeued": len(rest), "gone": len(gone),
            "worker_pid": ctx.pid, "load_id": ctx.load_id}


def deliver_webhook(delivery_id: int) -> str:
    ctx = context()
    rt = ctx.runtime
    try:
        status = deliver(rt.sessions, delivery_id, rt.settings.signing_secret, rt.settings.webhook_timeout_seconds,
                         final_attempt=_final_attempt())
    except Exception:
        metrics.incr(rt.redis, "webhook_failures")
        if _final_attempt():
            metrics.incr(rt.redis, "webhooks_dead")
        raise
    if status == "delivered":
        metrics.incr(rt.redis, "webhooks_delivered")
    return status


def changed_for(session: Any, revision_ids: list[int], rubric_ids: list[str], ruleset: Any) -> list[int]:
    """The revisions whose newest analysis used another version of one of ``rubric_ids`` (or has none)."""
    current = {r.id: r.sha256 for r in ruleset.rubrics}
    keep = []
    for rid in revision_ids:
        body = session.scalar(select(Analysis.body).where(Analysis.revision_id == rid).order_by(Analysis.id.desc()).limit(1))
        if body is None:
            keep.append(rid)
            continue
        used = json.loads(body)["provenance"]["ruleset"]["rubrics"]
        if any(used.get(r, {}).get("sha256") != current.get(r) for r in rubric_ids):
            keep.append(rid)
    return keep


def rescore(rescore_id: str) -> dict[str, Any]:
    """Queue an analysis, under the worker's ruleset, of every note revision the rescore covers."""
    ctx = context()
    rt = ctx.runtime
    ruleset_sha = ctx.reader.ruleset.sha256
    model_sha = ctx.reader.embedder.manifest.sha256
    with rt.sessions() as session, session.begin():
        job = session.get(RescoreJob, rescore_id)
        if job is None:
            raise LookupError(f"rescore {rescore_id} is not in the store")
        if job.ruleset_sha256 != ruleset_sha:
            raise RuntimeError(f"rescore {rescore_id} was asked for ruleset {job.ruleset_sha256[:12]}, but this "
                               f"worker runs {ruleset_sha[:12]}; restart workers with the same rubrics as the API")
        ids = unanalysed_revisions(session, ruleset_sha, model_sha, since=job.since, limit=10_000_000)
        if job.rubric_ids:
            ids = changed_for(session, ids, job.rubric_ids, ctx.reader.ruleset)
        job.revision_ids, job.status = ids, "running"
    queued = enqueue_batches(rt.queue, ids, ruleset_sha, rt.settings.analysis_retry_intervals,
                             meta={"rescore": rescore_id}, timeout=rt.settings.analysis_job_timeout_seconds)
    log.info("rescore %s: %d revision(s) to analyse, %d queued", rescore_id, len(ids), queued)
    return {"revisions": len(ids), "queued": queued}


__all__ = ["analyze_revision", "analyze_revisions", "deliver_webhook", "rescore"]
