"""Fault: the case system's webhook receiver is down (its port closed) for a while; write-backs retry and all arrive once.

The outage lasts ``NOTEREADER_FAULT_WEBHOOK_DOWN_SECONDS`` (default 20 s in
CI; issue 7's minute is ``=60``), with write-back retry intervals of 2, 4, 8,
..., 128 s, the production schedule's shape on a shorter clock.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from sqlalchemy import text

from faults_helpers import DownableReceiver, fault_notes, post_all, record, tally, wait_drained
from notereader.bench.stack import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.service, pytest.mark.slow]

RETRY_INTERVALS = [2, 4, 8, 16, 32, 64, 128]


def test_deliveries_to_a_receiver_that_is_down_retry_and_arrive_exactly_once(make_stack):
    down_for = float(os.environ.get("NOTEREADER_FAULT_WEBHOOK_DOWN_SECONDS", "20"))
    assert down_for < sum(RETRY_INTERVALS), "the retries must outlast the outage"
    prefix = "hookdown"
    notes = fault_notes(prefix, 16)
    receiver = DownableReceiver()  # not listening yet: the receiver is down
    st = make_stack("sqlite", webhooks={"bench-cms": receiver.url}, webhook_retry_intervals=RETRY_INTERVALS,
                    webhook_timeout_seconds=5)
    api, token = st.start_api(timeout=240), st.token()
    st.start_workers(1)
    went_down = time.monotonic()
    assert Counter(r.status for r in post_all(api, token, notes)) == {202: len(notes)}
    wait_drained(st.runtime.engine, prefix, len(notes), 300, "the notes to be analysed while the receiver is down")

    def attempts() -> int:
        with st.runtime.engine.connect() as c:
            return c.execute(text("SELECT coalesce(sum(attempts), 0) FROM webhook_deliveries")).scalar_one()

    wait_until(lambda: attempts() >= len(notes), 60, "every write-back to be tried at least once")
    time.sleep(max(0.0, down_for - (time.monotonic() - went_down)))
    failed_attempts = attempts()
    receiver.up()
    came_back = time.monotonic()
    try:
        def all_delivered() -> bool:
            with st.runtime.engine.connect() as c:
                return c.execute(text("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")).scalar_one() == len(notes)
        wait_until(all_delivered, sum(RETRY_INTERVALS) + 60, "every write-back to arrive after the receiver came back", 1)
    finally:
        receiver.down()
    with st.runtime.engine.connect() as c:
        rows = c.execute(text("SELECT id, analysis_id, status, attempts FROM webhook_deliveries")).all()
    assert len(rows) == len(notes) and {r.status for r in rows} == {"delivered"}
    assert all(r.attempts >= 2 for r in rows)  # each one failed at least once, then got through
    got = Counter(x["delivery"] for x in receiver.received)
    assert set(got) == {str(r.id) for r in rows}  # none dropped
    assert max(got.values()) == 1  # none duplicated (a receiver dedupes on X-Notereader-Delivery if it ever is)
    assert {x["json"]["analysis_id"] for x in receiver.received} == {r.analysis_id for r in rows}
    t = tally(st.runtime.engine, prefix, len(notes))
    t.assert_clean()
    assert t.deliveries == len(notes)
    record("webhook receiver down", t, backend="sqlite", workers=1, down_seconds=round(came_back - went_down),
           failed_attempts=failed_attempts, deliveries_received=sum(got.values()),
           duplicate_deliveries=sum(v - 1 for v in got.values()), retry_intervals=RETRY_INTERVALS)
