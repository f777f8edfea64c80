"""Group commit for POST /v1/notes: concurrent posts of one API process share a transaction.

Why: every stored note ends with an append to the audit hash chain, which
locks the chain's head row until COMMIT, and every COMMIT waits for the disk
(~2.3 ms here, on PostgreSQL and SQLite alike). One note per transaction
therefore capped ingest at a few hundred notes/s whatever the cores, and the
per-note statements (look up note, client and plan; insert note, revision and
audit record) cost more CPU than the HTTP layer. Here one writer thread per
API process takes every post that is waiting, stores them all in one
transaction (notes and clients of the batch looked up in one query each, the
inserts sent together, the audit records chained under one lock) and commits
once. With no concurrency a batch is one note, exactly as before.

Guarantees are unchanged: a post is answered 202/200 only after the
transaction holding its note *and* its audit record has committed; a note
that contradicts what is stored (409) or belongs to another case system
(404) is answered so without touching the others of its batch (the checks
run before anything of that note is added to the session); if the batch
transaction fails on a unique key (another API process stored the same note
or client at the same moment) every note of the batch is stored again on its
own, as a single post would be; any other database failure fails every post
of the batch (503, nothing stored), and the case systems retry.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from notereader.service import audit
from notereader.service.ingest import Conflict, Known, NotVisible, Stored, store_note

log = logging.getLogger("notereader.ingest")


@dataclass(frozen=True)
class Accepted:
    """What the API answers for a stored (or repeated) post."""

    note_id: str
    revision: int
    text_sha256: str
    revision_id: int
    created: bool


@dataclass
class Post:
    data: dict[str, Any]  # NoteIn.model_dump()
    source: str  # the case system (token name)
    actor: str
    role: str
    future: Future[Accepted] = field(default_factory=Future)


def _audit_received(stored: Stored, post: Post) -> audit.Entry:
    rev = stored.revision
    return audit.Entry(actor=post.actor, role=post.role, action="note.received", target=f"note:{rev.note_id}",
                       detail={"revision": rev.revision, "text_sha256": rev.text_sha256, "team": post.data["team"]})


def _accepted(stored: Stored) -> Accepted:
    rev = stored.revision
    return Accepted(rev.note_id, rev.revision, rev.text_sha256, rev.id, stored.created)


def store_batch(session: Session, posts: list[Post]) -> list[Accepted | Exception]:
    """Store every post in the caller's transaction; per post, what to answer (Conflict/NotVisible for refusals)."""
    known = Known.load(session, (p.data["note_id"] for p in posts), (p.data["client_id"] for p in posts))
    outcomes: list[Stored | Exception] = []
    for post in posts:
        try:
            outcomes.append(store_note(session, post.data, post.source, known=known))
        except (Conflict, NotVisible) as exc:
            outcomes.append(exc)
    session.flush()  # the batch's new notes, revisions (and plans) in as few statements as the database allows
    created = [(o, p) for o, p in zip(outcomes, posts) if isinstance(o, Stored) and o.created]
    audit.append_many(session, [_audit_received(o, p) for o, p in created])
    return [o if isinstance(o, Exception) else _accepted(o) for o in outcomes]


def store_one(sessions: sessionmaker[Session], post: Post, attempts: int = 3) -> Accepted | Exception:
    """One post in its own transaction (the path a batch falls back to); retried on a concurrent insert."""
    for attempt in range(attempts):
        try:
            with sessions() as session, session.begin():
                return store_batch(session, [post])[0]
        except IntegrityError:
            # the same note (or client) was stored by another process between our read and our insert;
            # the next attempt sees it and answers like a repeat post
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


class IngestWriter:
    """One thread that stores the posts waiting at each moment in one transaction, then answers them all."""

    def __init__(self, sessions: sessionmaker[Session], max_batch: int = 64,
                 on_batch: Callable[[int], None] | None = None,
                 after_commit: Callable[[list[Accepted]], None] | None = None) -> None:
        self.sessions = sessions
        self.max_batch = max(1, max_batch)
        self.on_batch = on_batch
        self.after_commit = after_commit  # e.g. queue the analyses of the batch's new revisions, once
        self._queue: queue.SimpleQueue[Post] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, post: Post) -> Future[Accepted]:
        self._start()
        self._queue.put(post)
        return post.future

    def _start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
                self._thread.start()

    def _take(self) -> list[Post]:
        batch = [self._queue.get()]
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return [p for p in batch if p.future.set_running_or_notify_cancel()]

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch:
                try:
                    self._store(batch)
                except BaseException as exc:  # never let the writer die with posts waiting on it
                    log.exception("ingest writer: a batch of %d failed unexpectedly", len(batch))
                    for post in batch:
                        if not post.future.done():
                            post.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))

    def _store(self, batch: list[Post]) -> None:
        if self.on_batch is not None:
            self.on_batch(len(batch))
        try:
            with self.sessions() as session, session.begin():
                outcomes: list[Accepted | Exception] = store_batch(session, batch)
        except IntegrityError:
            log.info("a batch of %d posts met a concurrent insert of the same note or client; "
                     "storing its posts one by one", len(batch))
            outcomes = []
            for post in batch:
                try:
                    outcomes.append(store_one(self.sessions, post))
                except Exception as exc:
                    outcomes.append(exc)
        except Exception as exc:  # the database is down or refused the transaction: nothing of the batch is stored
            outcomes = [exc] * len(batch)
        stored = [o for o in outcomes if isinstance(o, Accepted)]
        if self.after_commit is not None and stored:
            try:
                self.after_commit(stored)
            except Exception as exc:  # stored is stored: the posts are still answered, the sweeper catches up
                log.warning("%d notes stored but their follow-up failed (%s); the sweeper will queue them",
                            len(stored), type(exc).__name__)
        for post, outcome in zip(batch, outcomes):
            if isinstance(outcome, Exception):
                post.future.set_exception(outcome)
            else:
                post.future.set_result(outcome)
