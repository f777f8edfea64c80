"""The risk queue's query, shared by ``GET /v1/risk-queue`` and the supervisor's queue page.

A ``QueueFilter`` says which flags to show; ``queue_select`` builds the
ordered query (most severe first, then the most recently written note) and
``queue_counts`` counts the matching flags by severity and status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from notereader.store.models import Client, Flag, Note

OPEN_STATUSES = ("open", "acknowledged", "escalated")


@dataclass(frozen=True)
class QueueFilter:
    """Which flags: ``teams`` is required (a supervisor's teams); every other field narrows further."""

    teams: tuple[str, ...]
    statuses: tuple[str, ...] = OPEN_STATUSES
    min_rank: int = 1
    severities: tuple[str, ...] = ()
    client_id: str | None = None
    rubric_id: str | None = None
    author_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _narrow(q: Select[Any], f: QueueFilter, *, with_status: bool = True) -> Select[Any]:
    q = q.where(Flag.team.in_(f.teams), Flag.severity_rank >= f.min_rank)
    if with_status:
        q = q.where(Flag.status.in_(f.statuses))
    if f.severities:
        q = q.where(Flag.severity.in_(f.severities))
    if f.client_id:
        q = q.where(Flag.client_id == f.client_id)
    if f.rubric_id:
        q = q.where(Flag.rubric_id == f.rubric_id)
    if f.author_id:
        q = q.where(Note.author_id == f.author_id)
    if f.since:
        q = q.where(Flag.written_at >= f.since)
    if f.until:
        q = q.where(Flag.written_at < f.until)
    return q


def queue_select(f: QueueFilter) -> Select[Any]:
    """(Flag, Note, Client) rows in queue order; add a cursor condition and a limit as needed."""
    q = select(Flag, Note, Client).join(Note, Note.note_id == Flag.note_id).join(Client, Client.client_id == Flag.client_id)
    return _narrow(q, f).order_by(Flag.severity_rank.desc(), Flag.written_at.desc(), Flag.id)


def queue_counts(session: Session, f: QueueFilter) -> dict[tuple[str, str], int]:
    """(severity, status) -> number of flags matching ``f`` whatever their status."""
    q = select(Flag.severity, Flag.status, func.count()).join(Note, Note.note_id == Flag.note_id)
    q = _narrow(q, f, with_status=False).group_by(Flag.severity, Flag.status)
    return {(sev, status): n for sev, status, n in session.execute(q).all()}
