"""A rescore queues its revisions in batches (queueing.enqueue_batches), leaving alone those already queued."""

from __future__ import annotations

import uuid

import pytest
from rq import Queue

from notereader.service.queueing import (RESCORE_BATCH, analysis_job_id, batch_job_id, enqueue_analysis,
                                         enqueue_batches)

pytestmark = pytest.mark.service


def test_revisions_are_queued_in_batches_and_one_already_queued_is_left_to_its_own_job(service):
    queue = Queue(f"test-batches-{uuid.uuid4().hex[:8]}", connection=service.runtime.redis)  # no worker listens
    sha = "f" * 64
    ids = list(range(1000, 1070))
    assert enqueue_analysis(queue, 1005, sha, [1])  # waiting already: the rescore must not queue it again
    queued = enqueue_batches(queue, ids, sha, [1, 2], meta={"rescore": "r-1"})
    assert queued == 69
    jobs = [j for j in queue.get_jobs() if j.func_name == "notereader.service.jobs.analyze_revisions"]
    batches = sorted((j.args[0] for j in jobs), key=lambda b: b[0])
    assert [len(b) for b in batches] == [RESCORE_BATCH, RESCORE_BATCH, 69 - 2 * RESCORE_BATCH]
    assert sorted(r for b in batches for r in b) == [r for r in ids if r != 1005]
    for j in jobs:
        assert j.id == batch_job_id(j.args[0], sha) and j.meta == {"rescore": "r-1"} and j.retries_left == 2
    assert queue.fetch_job(analysis_job_id(1005, sha)) is not None
    queue.empty()


def test_a_rescore_through_batches_analyses_every_note_once(service):
    """End to end on the fixture's worker: the analyses a rescore writes equal those of single jobs."""
    from sqlalchemy import func, select

    from notereader.service.jobs import analyze_revisions  # noqa: F401 # the job function the batches name
    from notereader.store.models import Analysis, NoteRevision
    from svc_helpers import wait_for

    posted = [service.post_note(text=f"Visit {i}. The client paid the rent and the fridge was stocked.")[1]["note_id"]
              for i in range(3)]
    for nid in posted:
        service.analysis(nid)
    with service.runtime.sessions() as s:
        rids = list(s.scalars(select(NoteRevision.id).where(NoteRevision.note_id.in_(posted))))
    sha = service.runtime.ruleset.sha256
    # the same revisions queued again as one batch: each already has its analysis, so nothing new is written
    assert enqueue_batches(service.runtime.queue, rids, sha, [1]) == 3
    job = service.runtime.queue.fetch_job(batch_job_id(rids, sha))
    result = wait_for(lambda: job.latest_result() if job.get_status(refresh=True) == "finished" else None, 60,
                      what="the batch job")
    assert result.return_value["skipped"] == 3 and result.return_value["analysed"] == 0
    with service.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Analysis).where(Analysis.revision_id.in_(rids))) == 3
