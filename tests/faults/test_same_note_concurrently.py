"""Fault: the same note posted 50 times at once (a case system's retry storm): one revision, one analysis."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from faults_helpers import fault_notes, record, tally, wait_drained

pytestmark = [pytest.mark.faults, pytest.mark.service, pytest.mark.slow]

COPIES = 50


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_same_note_posted_50_times_at_once_is_stored_and_analysed_once(make_stack, backend):
    prefix = f"same-{backend}"
    st = make_stack(backend)
    api, token = st.start_api(timeout=240), st.token()
    st.start_workers(1)
    (note,) = [n for n in fault_notes(prefix, 1)]
    barrier = threading.Barrier(COPIES)
    statuses: list[int] = []
    lock = threading.Lock()

    def post() -> None:
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            barrier.wait()
            r = client.post("/v1/notes", json=note)
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=post) for _ in range(COPIES)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert Counter(statuses) == {202: 1, 200: COPIES - 1}  # one stored it; the others were told it already was
    wait_drained(st.runtime.engine, prefix, 1, 300, "the note's analysis")
    t = tally(st.runtime.engine, prefix, 1)
    t.assert_clean()
    assert t.flags > 0
    record("same note posted 50x concurrently", t, backend=backend, requests=COPIES, workers=1)
