"""Fault: ``kill -9`` of a worker in the middle of a job. RQ notices the abandoned job and retries it; nothing is lost or written twice."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from rq.job import Job
from sqlalchemy import text

from faults_helpers import fault_notes, post_all, record, tally, wait_drained
from notereader.bench.stack import wait_until
from notereader.service.queueing import analysis_job_id

pytestmark = [pytest.mark.faults, pytest.mark.service, pytest.mark.slow]

LONG_SENTENCE = ("On visit {i} the client went through the rent arrears, the letters from the management company "
                 "and the repairs to the kitchen ceiling that are still outstanding.")


def _pid_of_worker(stack, worker_name: str) -> int:
    for proc in stack.workers:
        if proc.poll() is None and worker_name.encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            return proc.pid
    raise AssertionError(f"no live worker process is named {worker_name}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_job_loses_nothing_and_writes_nothing_twice(make_stack, backend):
    prefix = f"killed-{backend}"
    # RQ gives up on the dead worker's job about (job timeout + 60 s) after it started (measured: 70 s with a
    # 30 s timeout, 220-230 s with 180 s), so the timeout is short, but not so short that on a busy machine
    # the retried job is cut off itself (a 160-sentence note overran 30 s at load 15 on 2 cores; this
    # 80-sentence one takes ~1.2 s on a quiet machine).
    st = make_stack(backend, analysis_job_timeout_seconds=60, analysis_retry_intervals=[1, 2])
    api, token = st.start_api(timeout=240), st.token()
    st.start_workers(2)
    long_note = {"note_id": f"{prefix}-long", "client_id": f"{prefix}-client-long", "team": "housing",
                 "written_at": "2026-11-20T09:30:00Z", "text": " ".join(LONG_SENTENCE.format(i=i) for i in range(80))}
    assert [r.status for r in post_all(api, token, [long_note], threads=1)] == [202]
    with st.runtime.engine.connect() as c:
        rid = c.execute(text("SELECT id FROM note_revisions WHERE note_id = :n"), {"n": long_note["note_id"]}).scalar_one()
    job = Job.fetch(analysis_job_id(rid, st.runtime.ruleset.sha256), connection=st.runtime.redis)
    wait_until(lambda: job.get_status() == "started", 60, "a worker to start the long note's job", 0.02)
    job.refresh()
    victim = _pid_of_worker(st, job.worker_name)
    victim_proc = next(p for p in st.workers if p.pid == victim)
    victim_proc.send_signal(signal.SIGKILL)
    victim_proc.wait(10)
    with st.runtime.engine.connect() as c:  # nothing half-written by the dead worker
        assert c.execute(text("SELECT count(*) FROM analyses WHERE revision_id = :r"), {"r": rid}).scalar_one() == 0
    # Notes keep arriving; the surviving worker takes them, and a replacement worker joins.
    notes = fault_notes(prefix, 12)
    assert {r.status for r in post_all(api, token, notes)} == {202}
    st.start_workers(1)
    started = time.monotonic()
    t = wait_drained(st.runtime.engine, prefix, len(notes) + 1, 400, "the killed worker's job to be retried")
    recovered_after = time.monotonic() - started
    wait_until(lambda: job.get_status(refresh=True) == "finished", 30, "the retried job to be marked finished")
    assert st.runtime.queue.count == 0 and st.runtime.queue.failed_job_registry.count == 0
    t = tally(st.runtime.engine, prefix, len(notes) + 1)
    t.assert_clean()
    assert t.flags > 0  # the check covered flags, not only analyses
    record("worker kill -9 mid-job", t, backend=backend, workers="2 (one killed, one replacement)",
           recovered_seconds=round(recovered_after))
