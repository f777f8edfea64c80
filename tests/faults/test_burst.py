"""Fault: a burst of notes (10,000 at full scale) posted as fast as the API takes them, with 2 workers: none lost, the queue drains."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from faults_helpers import FULL_BURST, fault_notes, post_all, record, scale, scaled, tally, wait_drained

pytestmark = [pytest.mark.faults, pytest.mark.service, pytest.mark.slow]


def test_a_burst_with_two_workers_loses_nothing_and_the_queue_drains(make_stack):
    n = scaled(FULL_BURST, 100)
    prefix = "burst"
    st = make_stack("postgresql", sweep_interval_seconds=60)
    api, token = st.start_api(timeout=240), st.token()
    st.start_workers(2)
    started = time.monotonic()
    results = post_all(api, token, fault_notes(prefix, n), threads=8)
    posted_in = time.monotonic() - started
    assert Counter(r.status for r in results) == {202: n}

    def workers_alive() -> None:
        assert all(w.poll() is None for w in st.workers), "a worker died during the burst; see its log in " + str(st.workdir)

    wait_drained(st.runtime.engine, prefix, n, 120 + 3 * n, f"the {n}-note burst to be analysed", check=workers_alive)
    drained_in = time.monotonic() - started
    assert st.runtime.queue.count == 0 and st.runtime.queue.started_job_registry.count == 0
    assert st.runtime.queue.failed_job_registry.count == 0
    t = tally(st.runtime.engine, prefix, n)
    t.assert_clean()
    assert t.flags > 0
    record("burst with 2 workers", t, backend="postgresql", workers=2, scale=scale(), posted_seconds=round(posted_in),
           drained_seconds=round(drained_in), notes_per_second=round(n / drained_in, 2))
