"""The append-only, hash-chained audit log.

Each record's hash covers its own fields and the previous record's hash, and
the one-row ``audit_head`` holds the last sequence number and hash. Appending
locks that row, so concurrent API processes extend one chain. ``verify``
recomputes the chain: an edited record breaks its own hash, a deleted one
breaks the sequence or the next record's link, and a deleted tail no longer
matches the head.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from notereader.store.models import AuditHead, AuditRecord
from notereader.store.types import utcnow

GENESIS = "0" * 64


def _record_hash(prev_hash: str, seq: int, at: datetime, actor: str, role: str | None, action: str,
                 target: str | None, outcome: str, detail: dict[str, Any]) -> str:
    body = json.dumps({"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": actor, "role": role,
                       "action": action, "target": target, "outcome": outcome, "detail": detail},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Appended:
    """The sequence number and hash of a record just added."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Entry:
    """One record to append."""

    actor: str
    role: str | None
    action: str
    target: str | None = None
    outcome: str = "ok"
    detail: dict[str, Any] | None = None


def append(session: Session, *, actor: str, role: str | None, action: str, target: str | None = None,
           outcome: str = "ok", detail: dict[str, Any] | None = None) -> Appended:
    """Add one record in the caller's transaction (never with note text in ``detail``)."""
    return append_many(session, [Entry(actor, role, action, target, outcome, detail)])[0]


def append_many(session: Session, entries: list[Entry]) -> list[Appended]:
    """Add records in order, in the caller's transaction.

    Three statements however many records, no ORM objects: lock and read the head, insert the records,
    move the head. The head row stays locked until the caller commits, so call this last in a transaction.
    """
    if not entries:
        return []
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not created by `notereader db upgrade`")
    seq, prev = head.seq, head.hash
    rows: list[dict[str, Any]] = []
    out: list[Appended] = []
    for e in entries:
        at = utcnow()
        detail = e.detail or {}
        seq += 1
        digest = _record_hash(prev, seq, at, e.actor, e.role, e.action, e.target, e.outcome, detail)
        rows.append({"seq": seq, "at": at, "actor": e.actor, "role": e.role, "action": e.action, "target": e.target,
                     "outcome": e.outcome, "detail": detail, "prev_hash": prev, "hash": digest})
        out.append(Appended(seq, digest))
        prev = digest
    session.execute(insert(AuditRecord), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return out


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    message: str

    def __str__(self) -> str:
        return f"record {self.seq}: {self.message}" if self.seq is not None else self.message


def _records(session: Session, batch: int = 1000) -> Iterator[AuditRecord]:
    last = 0
    while True:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.seq > last).order_by(AuditRecord.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> tuple[int, list[ChainProblem]]:
    """(records checked, problems); no problems means the log is intact."""
    problems: list[ChainProblem] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for rec in _records(session):
        count += 1
        if rec.seq != expected_seq:
            problems.append(ChainProblem(rec.seq, f"expected record {expected_seq} here: records {expected_seq}..{rec.seq - 1} were deleted"))
        if rec.prev_hash != prev_hash:
            problems.append(ChainProblem(rec.seq, "does not link to the record before it (a record before it was deleted or edited)"))
        recomputed = _record_hash(rec.prev_hash, rec.seq, rec.at, rec.actor, rec.role, rec.action, rec.target,
                                  rec.outcome, rec.detail)
        if recomputed != rec.hash:
            problems.append(ChainProblem(rec.seq, "its content does not match its hash: the record was edited"))
        prev_hash, expected_seq = rec.hash, rec.seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev_hash):
        problems.append(ChainProblem(None, f"the chain ends at record {expected_seq - 1} but the head says {head.seq}: "
                                           "the newest records were deleted"))
    return count, problems
