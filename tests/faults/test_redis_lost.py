"""Fault: redis-server dies and comes back empty while notes are queued. The sweeper queues every note again."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from sqlalchemy import text

from faults_helpers import FULL_REDIS_QUEUED, fault_notes, post_all, record, restart_redis_empty, scale, scaled, tally, wait_drained
from notereader.bench.stack import wait_until
from notereader.service import metrics

pytestmark = [pytest.mark.faults, pytest.mark.service, pytest.mark.slow]


def _unanalysed(engine, prefix: str) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM note_revisions r LEFT JOIN analyses a ON a.revision_id = r.id "
                              "WHERE r.note_id LIKE :p AND a.id IS NULL"), {"p": prefix + "-%"}).scalar_one()


def test_redis_losing_its_data_while_notes_are_queued_loses_no_note(make_stack):
    n = scaled(FULL_REDIS_QUEUED, 50)
    prefix = "redislost"
    notes = fault_notes(prefix, n + 10)
    queued, during_outage = notes[:n], notes[n:]
    st = make_stack("postgresql")
    api, token = st.start_api(timeout=240), st.token()
    st.start_workers(2)
    assert Counter(r.status for r in post_all(api, token, queued)) == {202: n}
    # The workers are at it, and most of the notes are still waiting in Redis when it dies.
    wait_until(lambda: _unanalysed(st.runtime.engine, prefix) < n, 120, "the workers to start on the queue")
    st.redis.proc.send_signal(signal.SIGKILL)
    st.redis.proc.wait(10)
    waiting_when_lost = _unanalysed(st.runtime.engine, prefix)
    # Notes posted while Redis is down are stored and accepted; the sweeper queues them later.
    outage = post_all(api, token, during_outage, threads=2)
    assert Counter(r.status for r in outage) == {202: len(during_outage)}, [r.status for r in outage]
    restart_redis_empty(st.redis)
    assert metrics.counter(st.runtime.redis, "pipeline_loads") == 0  # Redis really came back empty
    started = time.monotonic()

    def workers_alive() -> None:
        assert all(w.poll() is None for w in st.workers), "a worker died when Redis went away; see " + str(st.workdir)

    wait_drained(st.runtime.engine, prefix, len(notes), 120 + 3 * len(notes), "the sweeper to restore every note",
                 check=workers_alive)
    assert st.runtime.queue.count == 0 and st.runtime.queue.failed_job_registry.count == 0
    t = tally(st.runtime.engine, prefix, len(notes))
    t.assert_clean()
    assert t.flags > 0
    for w in st.workers:  # the workers that rode out the outage still stop when asked
        w.terminate()
        assert w.wait(60) == 0
    record("redis-server restarted empty", t, backend="postgresql", workers=2, scale=scale(),
           queued_when_lost=waiting_when_lost, posted_while_down=len(during_outage),
           restored_seconds=round(time.monotonic() - started))
