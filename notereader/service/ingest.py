"""Storing what case systems send: clients, plans and note revisions.

Everything here runs inside the caller's transaction; the caller commits
before anything is enqueued, so a queued job always finds its note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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


def _client(session: Session, client_id: str, team: str, source: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        client = Client(client_id=client_id, team=team, source=source, created_at=utcnow())
        session.add(client)
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


def store_note(session: Session, data: dict[str, Any], source: str) -> Stored:
    """Store a note revision; an identical text for the same note_id is not stored twice."""
    note_id, text = data["note_id"], data["text"]
    written_at: datetime = data["written_at"]
    note = session.get(Note, note_id)
    if note is not None:
        if note.source != source:
            raise NotVisible(note_id)
        if note.client_id != data["client_id"]:
            raise Conflict("client_id", f"note {note_id!r} is stored for another client; a note cannot change client")
    client = _client(session, data["client_id"], data["team"], source)
    sha = text_sha256(text)
    if note is not None:
        existing = session.scalar(select(NoteRevision).where(NoteRevision.note_id == note_id, NoteRevision.text_sha256 == sha))
        if existing is not None:
            return Stored(existing, False)
    if data.get("plan") is not None:
        plan, _ = set_plan(session, client.client_id, client.team, source, data["plan"]["goals"])
    else:
        plan = current_plan(session, client.client_id)
    now = utcnow()
    # A new note has no revisions yet; the note and its first revision go out in one flush.
    if note is None:
        note = Note(note_id=note_id, client_id=client.client_id, team=client.team, source=source,
                    author_id=data.get("author_id"), written_at=written_at, created_at=now)
        session.add(note)
        last = 0
    else:
        note.written_at, note.author_id = written_at, data.get("author_id")
        last = session.scalar(select(func.max(NoteRevision.revision)).where(NoteRevision.note_id == note_id)) or 0
    revision = NoteRevision(note=note, revision=last + 1, text_sha256=sha, text=text,
                            plan_id=plan.id if plan else None, written_at=written_at, received_at=now)
    session.add(revision)
    session.flush()
    return Stored(revision, True)


def latest_revision(session: Session, note_id: str) -> NoteRevision | None:
    return session.scalar(select(NoteRevision).where(NoteRevision.note_id == note_id)
                          .order_by(NoteRevision.revision.desc()).limit(1))
