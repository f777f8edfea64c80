"""Group commit of posted notes (service/ingest_batch.py), on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from svc_helpers import fresh_postgres_database
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from notereader.service import audit
from notereader.service.ingest import Conflict, NotVisible
from notereader.service.ingest_batch import Accepted, IngestWriter, Post, store_batch, store_one
from notereader.store.db import make_engine, make_sessionmaker, upgrade
from notereader.store.models import AuditRecord, Client, NoteRevision, Plan

pytestmark = pytest.mark.service

WHEN = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)


def _post(note_id: str, client_id: str, text: str, source: str = "acme", **extra: Any) -> Post:
    data = {"note_id": note_id, "client_id": client_id, "team": "housing", "written_at": WHEN, "text": text,
            "author_id": None, "plan": None} | extra
    return Post(data, source, f"case_system:{source}", "case_system")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    drop = lambda: None  # noqa: E731
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'batch.db'}"
    else:
        url, drop = fresh_postgres_database("notereader_batch")
    upgrade(url)
    engine = make_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()
        drop()


def _seed(sessions: Any) -> None:
    for post in (_post("old-1", "c-1", "First visit; the client moved in."),
                 _post("theirs-1", "c-9", "Another agency's note.", source="other-cms")):
        assert isinstance(store_one(sessions, post), Accepted)


def _scenario() -> list[Post]:
    goals = {"goals": [{"goal_id": "g1", "text": "Keep the apartment"}]}
    return [
        _post("new-1", "c-new", "Met the client at the shelter."),                       # new note, new client
        _post("new-1", "c-new", "Met the client at the shelter."),                       # the same again, at once
        _post("new-2", "c-new", "Called the landlord.", plan=goals),                     # same new client, a plan
        _post("old-1", "c-1", "First visit; the client moved in."),                      # repeat of a stored note
        _post("old-1", "c-1", "Second visit; rent is paid."),                            # a new revision
        _post("new-1", "c-new", "Met the client at the shelter."),                       # repeat within the batch
        _post("old-1", "c-2", "Someone else's client?"),                                 # contradicts the store
        _post("theirs-1", "c-9", "Overwrite?"),                                          # another case system's
        _post("new-3", "c-new", "Bus pass delivered."),                                  # the plan applies now
    ]


def _summary(outcome: Accepted | Exception) -> Any:
    if isinstance(outcome, Exception):
        return type(outcome).__name__, getattr(outcome, "field", None)
    return outcome.note_id, outcome.revision, outcome.created


def _state(sessions: Any) -> Any:
    with sessions() as s:
        revisions = s.execute(select(NoteRevision.note_id, NoteRevision.revision, NoteRevision.plan_id.is_(None))
                              .order_by(NoteRevision.note_id, NoteRevision.revision)).all()
        return ([tuple(r) for r in revisions], s.scalar(select(func.count()).select_from(Client)),
                s.scalar(select(func.count()).select_from(Plan)),
                [(r.action, r.target) for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq))])


def test_a_batch_answers_and_stores_every_post_as_one_by_one_posting_would(store, tmp_path: Path):
    _seed(store)
    with store() as s, s.begin():
        batched = store_batch(s, _scenario())
    # the same posts one at a time, each in its own transaction, on a second database
    alone_sessions = make_sessionmaker(make_engine(f"sqlite:///{tmp_path / 'alone.db'}"))
    upgrade(f"sqlite:///{tmp_path / 'alone.db'}")
    _seed(alone_sessions)
    alone = [store_one(alone_sessions, p) for p in _scenario()]

    assert [_summary(o) for o in batched] == [_summary(o) for o in alone] == [
        ("new-1", 1, True), ("new-1", 1, False), ("new-2", 1, True), ("old-1", 1, False), ("old-1", 2, True), ("new-1", 1, False),
        ("Conflict", "client_id"), ("NotVisible", None), ("new-3", 1, True)]
    assert isinstance(batched[6], Conflict) and isinstance(batched[7], NotVisible)
    assert _state(store) == _state(alone_sessions)
    revisions, clients, plans, records = _state(store)
    assert ("new-3", 1, False) in revisions and ("new-1", 1, True) in revisions  # new-3 got the plan, new-1 none
    assert records[-4:] == [("note.received", f"note:{n}") for n in ("new-1", "new-2", "old-1", "new-3")]
    with store() as s:
        checked, problems = audit.verify(s)
    assert problems == [] and checked == len(records)


def test_the_writer_answers_concurrent_posts_after_committing_them_in_shared_transactions(store):
    sizes: list[int] = []
    writer = IngestWriter(store, max_batch=16, on_batch=sizes.append)
    results: dict[str, Accepted] = {}
    lock = threading.Lock()

    def client(k: int) -> None:
        for i in range(10):
            outcome = writer.submit(_post(f"n-{k}-{i}", f"c-{k}", f"Visit {i} of client {k}.")).result(timeout=60)
            with lock:
                results[outcome.note_id] = outcome

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 60 and all(r.created and r.revision == 1 for r in results.values())
    assert sum(sizes) == 60 and max(sizes) <= 16
    with store() as s:
        assert s.scalar(select(func.count()).select_from(NoteRevision)) == 60
        assert {r.revision_id for r in results.values()} == set(s.scalars(select(NoteRevision.id)))
        assert audit.verify(s) == (60, [])


def test_a_batch_that_meets_a_concurrent_insert_is_stored_again_post_by_post(store, caplog):
    if store.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite admits one writer at a time: no other writer can insert during the batch")
    intruded: list[bool] = []

    def another_process_stores_it_first(session: Any, _ctx: Any, _instances: Any) -> None:
        if not intruded:
            intruded.append(True)
            assert isinstance(store_one(store, _post("race-1", "c-race", "Same text from both.")), Accepted)

    writer = IngestWriter(store)
    caplog.set_level("INFO", logger="notereader.ingest")
    event.listen(store, "before_flush", another_process_stores_it_first)
    try:
        first = writer.submit(_post("race-1", "c-race", "Same text from both."))
        outcome = first.result(timeout=60)
    finally:
        event.remove(store, "before_flush", another_process_stores_it_first)
    assert intruded and outcome.created is False and outcome.revision == 1  # answered as a repeat post
    assert "met a concurrent insert" in caplog.text  # the batch's own insert failed, then the one-by-one path ran
    with store() as s:
        assert s.scalar(select(func.count()).select_from(NoteRevision).where(NoteRevision.note_id == "race-1")) == 1
        assert audit.verify(s) == (1, [])


def test_a_database_failure_fails_every_post_of_the_batch_and_stores_nothing(tmp_path: Path):
    broken = make_sessionmaker(make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}"))
    writer = IngestWriter(broken)
    futures = [writer.submit(_post(f"f-{i}", "c-f", "A note.")) for i in range(3)]
    for f in futures:
        with pytest.raises(OperationalError):
            f.result(timeout=30)


def test_after_commit_sees_each_batch_once_and_its_failure_fails_no_post(store, caplog):
    seen: list[list[tuple[str, bool]]] = []

    def follow_up(stored: list[Accepted]) -> None:
        seen.append([(a.note_id, a.created) for a in stored])
        raise ConnectionError("Redis is down")  # as when the queue cannot be reached: the notes are stored anyway

    writer = IngestWriter(store, after_commit=follow_up)
    caplog.set_level("WARNING", logger="notereader.ingest")
    first = writer.submit(_post("q-1", "c-q", "Visit one.")).result(timeout=30)
    again = writer.submit(_post("q-1", "c-q", "Visit one.")).result(timeout=30)
    assert first.created and not again.created
    assert seen == [[("q-1", True)], [("q-1", False)]]
    assert "the sweeper will queue them" in caplog.text
    with store() as s:
        assert s.scalar(select(func.count()).select_from(NoteRevision)) == 1
