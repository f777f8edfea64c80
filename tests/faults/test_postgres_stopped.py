"""Fault: PostgreSQL stopped for 10 s while notes are being posted.

The API answers 503 with Retry-After and stores nothing it cannot persist;
the case system posts the refused notes again after the restart and every
note flows through. The cluster is the tests' own (``private_postgres``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import text

from faults_helpers import PostResult, fault_notes, post_all, record, tally, wait_drained

pytestmark = [pytest.mark.faults, pytest.mark.service, pytest.mark.slow]

OUTAGE_SECONDS = 10


def test_postgres_stopped_for_10_s_gets_503_with_retry_after_and_loses_nothing(make_stack, private_postgres):
    prefix = "pgdown"
    notes = fault_notes(prefix, 400)
    st = make_stack("postgresql")
    api, token = st.start_api(timeout=240), st.token()
    st.start_workers(1)
    results: list[PostResult] = []
    readiness: list[int] = []
    stop = threading.Event()

    def poster() -> None:
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            for note in notes:
                if stop.is_set():
                    return
                try:
                    r = client.post("/v1/notes", json=note)
                    results.append(PostResult(note["note_id"], r.status_code, r.headers.get("retry-after"), time.time()))
                except httpx.HTTPError:
                    results.append(PostResult(note["note_id"], 0, None, time.time()))
                time.sleep(0.2)

    thread = threading.Thread(target=poster)
    thread.start()
    time.sleep(3)
    private_postgres.stop("immediate")  # as abrupt as a crash: open transactions are cut
    down_at = time.time()
    time.sleep(OUTAGE_SECONDS / 2)
    readiness.append(httpx.get(f"{api}/readyz", timeout=30).status_code)
    time.sleep(OUTAGE_SECONDS / 2)
    private_postgres.start()
    up_at = time.time()
    time.sleep(5)
    stop.set()
    thread.join()
    posted = [r for r in results]
    by_status = Counter(r.status for r in posted)
    assert set(by_status) <= {202, 503}, by_status  # never a 500, never a dropped connection
    refused = [r for r in posted if r.status == 503]
    assert refused, f"no note was refused while PostgreSQL was down ({by_status})"
    assert all(r.retry_after and int(r.retry_after) > 0 for r in refused)
    assert all(down_at - 1 <= r.at <= up_at + 5 for r in refused)
    assert readiness == [503]
    # Nothing it could not persist was accepted: every 202 is stored, no 503 is.
    with st.runtime.engine.connect() as c:
        stored = set(c.execute(text("SELECT note_id FROM notes WHERE note_id LIKE :p"), {"p": prefix + "-%"}).scalars())
    assert {r.note_id for r in posted if r.status == 202} == stored
    # The case system honours Retry-After and posts the refused notes again.
    again = post_all(api, token, [n for n in notes if n["note_id"] in {r.note_id for r in refused}], threads=2)
    assert Counter(r.status for r in again) == {202: len(refused)}
    wait_drained(st.runtime.engine, prefix, len(posted), 600, "every note to be analysed after the restart")
    t = tally(st.runtime.engine, prefix, len(posted))
    t.assert_clean()
    assert t.flags > 0
    record("PostgreSQL stopped 10 s", t, backend="postgresql (private cluster, pg_ctl stop -m immediate)", workers=1,
           accepted_before_or_after=by_status[202], refused_503=len(refused), outage_seconds=round(up_at - down_at, 1))
