"""Tables of the store. The same models run on SQLite and PostgreSQL.

Notes are kept exactly as received; a changed text is a new revision keyed by
its SHA-256. An analysis is unique per (revision, ruleset hash, model hash),
so a repeated or concurrent job can never write one twice. The audit log is
append-only and hash-chained (see ``notereader.service.audit``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from notereader.store.types import UTCDateTime


class Base(DeclarativeBase):
    pass


class Client(Base):
    __tablename__ = "clients"
    client_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    team: Mapped[str] = mapped_column(String(100), index=True)
    source: Mapped[str] = mapped_column(String(200), doc="the case system that created the client")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Plan(Base):
    """A version of a client's plan; the newest version is the current plan."""
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("client_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id"))
    version: Mapped[int] = mapped_column(Integer)
    goals: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Note(Base):
    __tablename__ = "notes"
    note_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id"), index=True)
    team: Mapped[str] = mapped_column(String(100), index=True)
    source: Mapped[str] = mapped_column(String(200), doc="the case system that posted the note")
    author_id: Mapped[str | None] = mapped_column(String(200))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revisions: Mapped[list["NoteRevision"]] = relationship(order_by="NoteRevision.revision", back_populates="note")
    client: Mapped[Client] = relationship()  # lets one flush insert a new client before its first note


class NoteRevision(Base):
    __tablename__ = "note_revisions"
    __table_args__ = (UniqueConstraint("note_id", "text_sha256"), UniqueConstraint("note_id", "revision"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    note_id: Mapped[str] = mapped_column(ForeignKey("notes.note_id"))
    revision: Mapped[int] = mapped_column(Integer)
    text_sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, doc="exactly as received")
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[Note] = relationship(back_populates="revisions")
    plan: Mapped[Plan | None] = relationship()


class RubricVersion(Base):
    """The text of every rubric version that produced a finding."""
    __tablename__ = "rubric_versions"
    __table_args__ = (UniqueConstraint("rubric_id", "content_sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rubric_id: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Analysis(Base):
    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("revision_id", "ruleset_sha256", "model_sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("note_revisions.id"), index=True)
    ruleset_sha256: Mapped[str] = mapped_column(String(64))
    model_sha256: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(40))
    fingerprint: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, doc="the Analysis v1 as canonical JSON, served byte for byte")
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revision: Mapped[NoteRevision] = relationship()


class Finding(Base):
    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), doc="risk | theme | goal")
    rubric_id: Mapped[str | None] = mapped_column(String(100))
    rubric_version_id: Mapped[int | None] = mapped_column(ForeignKey("rubric_versions.id"))
    goal_id: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str | None] = mapped_column(String(20))
    direction: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    analysis: Mapped[Analysis] = relationship()
    rubric_version: Mapped[RubricVersion | None] = relationship()


class Flag(Base):
    """A raised risk on a note, worked by supervisors; one per (note, rubric)."""
    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("note_id", "rubric_id"),
                      Index("ix_flags_queue", "team", "status", "severity_rank", "written_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    note_id: Mapped[str] = mapped_column(ForeignKey("notes.note_id"))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id"))
    team: Mapped[str] = mapped_column(String(100))
    rubric_id: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(20))
    severity_rank: Mapped[int] = mapped_column(Integer)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"))
    status: Mapped[str] = mapped_column(String(20))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finding: Mapped[Finding] = relationship()
    reviews: Mapped[list["FlagReview"]] = relationship(order_by="FlagReview.id")


class FlagReview(Base):
    __tablename__ = "flag_reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRecord(Base):
    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash, locked while appending."""
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    teams: Mapped[list[str]] = mapped_column(JSON)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), doc="NULL: never expires")


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), unique=True)
    note_id: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20), doc="pending | delivered | superseded | dead")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RescoreJob(Base):
    __tablename__ = "rescore_jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rubric_ids: Mapped[list[str]] = mapped_column(JSON)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ruleset_sha256: Mapped[str] = mapped_column(String(64))
    revision_ids: Mapped[list[int]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
