"""Request and response models of the v1 API (input, stored and public shapes are separate).

Note text and plans are checked by the same rules as the command line
(``notereader.notes.validate_note``), so a note the CLI refuses is refused
here too, with the same message, under the same field name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from contextvars import ContextVar

from fastapi import Path, Query

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from notereader.notes import validate_note

# The teams the running service knows; set per request (see notereader.api.deps.known_teams).
KNOWN_TEAMS: ContextVar[tuple[str, ...] | None] = ContextVar("KNOWN_TEAMS", default=None)

# Row ids are 32-bit integers on PostgreSQL: a larger id in a path or a page cursor is refused with 422
# rather than reaching the database as an out-of-range parameter.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row id (1 to 2**31-1)")]
AfterId = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="page: the last id of the previous page")]

Severity = Literal["critical", "high", "medium"]
FlagStatus = Literal["open", "acknowledged", "escalated", "dismissed", "resolved", "withdrawn"]
ReviewAction = Literal["acknowledge", "escalate", "dismiss", "resolve"]


class Goal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    goal_id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=2000)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    goals: list[Goal] = Field(max_length=100)

    @model_validator(mode="after")
    def _check(self) -> "PlanIn":
        _, problems = validate_note({"note_id": "x", "text": "x", "plan": self.model_dump()})
        if problems:
            raise ValueError("; ".join(f"{p.key} {p.message}" for p in problems))
        return self


class PlanPut(PlanIn):
    team: str | None = Field(None, description="needed only when the client is new to notereader")


class NoteIn(BaseModel):
    """A note as the case system sends it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "note_id": "cms-2026-000123", "client_id": "client-88", "team": "housing",
        "written_at": "2026-11-20T15:04:00Z", "author_id": "worker-7",
        "text": "Home visit. Client says the landlord gave her a notice to vacate by Friday.",
        "plan": {"goals": [{"goal_id": "g1", "text": "Keep stable housing"}]}}})

    note_id: str = Field(min_length=1, max_length=200, pattern=r"\S")
    client_id: str = Field(min_length=1, max_length=200, pattern=r"\S")
    team: str = Field(min_length=1, max_length=100)
    written_at: AwareDatetime
    text: str
    author_id: str | None = Field(None, max_length=200)
    plan: PlanIn | None = None

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        _, problems = validate_note({"note_id": "x", "text": v})
        if problems:
            raise ValueError("; ".join(p.message for p in problems))
        return v

    @field_validator("team")
    @classmethod
    def _team(cls, v: str) -> str:
        teams = KNOWN_TEAMS.get()
        if teams is not None and v not in teams:
            raise ValueError(f"unknown team {v!r}; known teams: {', '.join(teams)}")
        return v


class NoteAccepted(BaseModel):
    note_id: str
    revision: int
    text_sha256: str
    note_url: str
    status_url: str


class RevisionOut(BaseModel):
    revision: int
    text_sha256: str
    received_at: datetime
    plan_version: int | None


class NoteOut(BaseModel):
    note_id: str
    client_id: str
    team: str
    author_id: str | None
    written_at: datetime
    text: str = Field(description="the latest revision's text, exactly as received")
    revision: int
    text_sha256: str
    revisions: list[RevisionOut]
    analysis_status: Literal["pending", "analysed"]


class PlanOut(BaseModel):
    client_id: str
    version: int
    goals: list[Goal]
    created_at: datetime


class Pending(BaseModel):
    status: Literal["pending", "failed"] = "pending"
    note_id: str
    revision: int
    detail: str


class FlagItem(BaseModel):
    flag_id: int
    status: FlagStatus
    rubric_id: str
    title: str | None
    severity: Severity
    score: float
    finding_id: int
    note: dict[str, Any]
    client: dict[str, Any]
    quote: dict[str, Any] = Field(description="the first cited sentence: paragraph, start, end, quote")
    created_at: datetime
    updated_at: datetime


class RiskQueuePage(BaseModel):
    items: list[FlagItem]
    next_cursor: str | None


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: ReviewAction
    reason: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _reason(self) -> "ReviewIn":
        if self.action == "dismiss" and not (self.reason and self.reason.strip()):
            raise ValueError("reason is required to dismiss a flag: say why the flag is not a real risk")
        return self


class ReviewOut(BaseModel):
    action: str
    reason: str | None
    actor: str
    from_status: str
    to_status: str
    at: datetime


class FlagOut(BaseModel):
    flag_id: int
    status: FlagStatus
    rubric_id: str
    severity: Severity
    note_id: str
    client_id: str
    team: str
    history: list[ReviewOut]


class RescoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rubric_ids: list[str] | None = None
    since: AwareDatetime | None = None


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["case_system", "supervisor", "analyst", "auditor", "admin"]
    name: str = Field(min_length=1, max_length=200)
    teams: list[str] = Field(default_factory=list)
    expires_in_days: float | None = Field(None, gt=0, le=3650,
                                          description="the token stops working this many days from now; "
                                                      "leave out for a token that does not expire")


class TokenCreated(BaseModel):
    token_id: int
    name: str
    role: str
    teams: list[str]
    expires_at: datetime | None = Field(None, description="when the token stops working; null: never")
    token: str = Field(description="shown once; the store keeps only its hash")


class ExportCitation(BaseModel):
    quote: str = Field(description="the cited sentence with names, phone numbers, e-mails, addresses and dates "
                                   "replaced by <PERSON>, <PHONE_NUMBER>, <EMAIL_ADDRESS>, <ADDRESS>, <DATE>")
    masked: list[str] = Field(description="the kinds of identifier masked in this quote, in text order")


class ExportFinding(BaseModel):
    finding_id: int
    kind: str
    rubric_id: str | None
    rubric_version: int | None
    goal_id: str | None
    severity: str | None
    direction: str | None
    score: float
    team: str
    note_ref: str = Field(description="a stable pseudonym of the note (keyed hash), not its id")
    client_ref: str = Field(description="a stable pseudonym of the client (keyed hash), not their id")
    written_month: str = Field(description="the month the note was written, YYYY-MM (no day: dates identify)")
    citations: list[ExportCitation]


class ExportPage(BaseModel):
    items: list[ExportFinding]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")
