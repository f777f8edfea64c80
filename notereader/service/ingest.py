"""Storing what case systems send: clients, plans and note revisions.

Everything here runs inside the caller's transaction; the caller commits
before anything is enqueued, so a queued job always finds its note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from notereader.analysis import text_sha256
from notereader.store.models import Client, Note, NoteRevision, Plan
from notereader.store.types import utcnow


class Conflict(Exception):
    """The request contradicts what is stored (names the field and why)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotVisible(Exception):
    """The record exists but belongs to another case system or team: answered as 404."""


@dataclass(frozen=True)
class Stored:
    revision: NoteRevision
    created: bool


def current_plan(session: Session, client_id: str) -> Plan | None:
    return session.scalar(select(Plan).where(Plan.client_id == client_id).order_by(Plan.version.desc()).limit(1))


@dataclass
class Known:
    """What a batch already looked up (one query each), kept current as the batch adds rows.

    A key that is present maps to the row, or to None when the store has none: store_note then asks the
    database nothing about it (looking up a note that does not exist yet was the batch's costliest step).
    """

    notes: dict[str, Note | None]
    clients: dict[str, Client | None]
    plans: dict[str, Plan]

    @classmethod
    def load(cls, session: Session, note_ids: Iterable[str], client_ids: Iterable[str]) -> Known:
        note_ids, client_ids = set(note_ids), set(client_ids)
        notes: dict[str, Note | None] = dict.fromkeys(note_ids)
        notes.update({n.note_id: n for n in session.scalars(select(Note).where(Note.note_id.in_(note_ids)))})
        clients: dict[str, Client | None] = dict.fromkeys(client_ids)
        clients.update({c.client_id: c for c in session.scalars(select(Client).where(Client.client_id.in_(client_ids)))})
        return cls(notes, clients, latest_plans(session, client_ids))


def _client(session: Session, client_id: str, team: str, source: str, known: Known | None = None) -> Client:
    client = known.clients[client_id] if known is not None and client_id in known.clients else session.get(Client, client_id)
    if client is None:
        client = Client(client_id=client_id, team=team, source=source, created_at=utcnow())
        session.add(client)
        if known is not None:
            known.clients[client_id] = client
        else:
            session.flush()
    elif client.source != source:
        raise NotVisible(client_id)
    elif client.team != team:
        raise Conflict("team", f"client {client_id!r} belongs to team {client.team!r}, not {team!r}; "
                               "moving a client between teams is not done by posting a note")
    return client


def set_plan(session: Session, client_id: str, team: str, source: str, goals: list[dict[str, str]]) -> tuple[Plan, bool]:
    """Make ``goals`` the client's current plan; (plan, whether a new version was made)."""
    _client(session, client_id, team, source)
    plan = current_plan(session, client_id)
    if plan is not None and plan.goals == goals:
        return plan, False
    new = Plan(client_id=client_id, version=(plan.version + 1) if plan else 1, goals=goals, created_at=utcnow())
    session.add(new)
    session.flush()
    return new, True


def latest_plans(session: Session, client_ids: Iterable[str]) -> dict[str, Plan]:
    """Each client's current plan, in one query (clients without a plan are left out)."""
    out: dict[str, Plan] = {}
    for plan in session.scalars(select(Plan).where(Plan.client_id.in_(set(client_ids))).order_by(Plan.version)):
        out[plan.client_id] = plan  # ascending versions: the last one wins
    return out


def store_note(session: Session, data: dict[str, Any], source: str, *, known: Known | None = None) -> Stored:
    """Store a note revision; an identical text for the same note_id is not stored twice.

    With ``known`` (a batch's lookups, ``Known.load``), rows are found there and new rows are left to the
    caller's next flush (a batch flushes once); without it, the rows are flushed before returning.
    """
    note_id, text = data["note_id"], data["text"]
    written_at: datetime = data["written_at"]
    note = known.notes[note_id] if known is not None and note_id in known.notes else session.get(Note, note_id)
    if note is not None:
        if note.source != source:
            raise NotVisible(note_id)
        if note.client_id != data["client_id"]:
            raise Conflict("client_id", f"note {note_id!r} is stored for another client; a note cannot change client")
    client = _client(session, data["client_id"], data["team"], source, known)
    sha = text_sha256(text)
    if note is not None:
        existing = session.scalar(select(NoteRevision).where(NoteRevision.note_id == note_id, NoteRevision.text_sha256 == sha))
        if existing is not None:
            return Stored(existing, False)
    if data.get("plan") is not None:
        session.flush()  # set_plan reads the current plan; a client new in this batch must be stored first
        plan, _ = set_plan(session, client.client_id, client.team, source, data["plan"]["goals"])
        if known is not None:
            known.plans[client.client_id] = plan
    elif known is not None:
        plan = known.plans.get(client.client_id)
    else:
        plan = current_plan(session, client.client_id)
    now = utcnow()
    # A new note has no revisions yet; the note and its first revision go out in one flush.
    if note is None:
        # client_id set as well as client: a pending note must answer for its client before any flush
        # (a copy of the same note later in the batch checks it)
        note = Note(note_id=note_id, client_id=client.client_id, client=client, team=client.team, source=source,
                    author_id=data.get("author_id"), written_at=written_at, created_at=now)
        session.add(note)
        if known is not None:
            known.notes[note_id] = note
        last = 0
    else:
        note.written_at, note.author_id = written_at, data.get("author_id")
        last = session.scalar(select(func.max(NoteRevision.revision)).where(NoteRevision.note_id == note_id)) or 0
    revision = NoteRevision(note=note, revision=last + 1, text_sha256=sha, text=text,
                            plan_id=plan.id if plan else None, written_at=written_at, received_at=now)
    session.add(revision)
    if known is None:
        session.flush()
    return Stored(revision, True)


def latest_revision(session: Session, note_id: str) -> NoteRevision | None:
    return session.scalar(select(NoteRevision).where(NoteRevision.note_id == note_id)
                          .order_by(NoteRevision.revision.desc()).limit(1))
