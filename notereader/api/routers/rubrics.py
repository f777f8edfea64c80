"""Rubric quality for analysts: what supervisors' reviews say about each rubric's flags."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from notereader.api.deps import Analyst, RuntimeDep, SessionDep
from notereader.service import audit
from notereader.service.quality import rubric_quality

router = APIRouter(prefix="/v1", tags=["rubrics"])


class Figures(BaseModel):
    raised: int = Field(description="flags created")
    reviewed: int = Field(description="flags a supervisor acted on")
    dismissed: int = Field(description="flags dismissed by a supervisor")
    confirmed: int = Field(description="reviewed flags not dismissed (acknowledged, escalated or resolved)")
    precision: float | None = Field(description="confirmed / (confirmed + dismissed); null before any verdict")


class MonthFigures(Figures):
    month: str = Field(description="YYYY-MM of the flag's creation")


class VersionFigures(Figures):
    version: int | None = Field(description="the rubric version of the finding the flag rests on")


class DismissedFlag(BaseModel):
    flag_id: int
    rubric_version: int | None
    note_id: str
    reason: str | None
    sentences: list[str] = Field(description="the cited sentences: candidates for the rubric's no_flag examples")


class RubricQuality(Figures):
    rubric_id: str
    title: str | None
    by_month: list[MonthFigures]
    by_version: list[VersionFigures]
    dismissed_flags: list[DismissedFlag]


class QualityReport(BaseModel):
    definitions: dict[str, str]
    rubrics: list[RubricQuality]


@router.get("/rubrics/quality", response_model=QualityReport)
def quality(principal: Analyst, session: SessionDep, rt: RuntimeDep,
            rubric_id: Annotated[str | None, Query(description="one rubric only")] = None) -> Any:
    """Flags raised, reviewed, dismissed (with reasons) and confirmed per rubric, and the precision that
    follows, by month and by rubric version; the dismissed flags' sentences are listed."""
    titles = {r.id: r.title for r in rt.ruleset.rubrics}
    report = rubric_quality(session, titles, rubric_id)
    audit.append(session, actor=principal.actor, role=principal.role, action="rubric_quality.read", target=None,
                 detail={"rubric_id": rubric_id, "rubrics": len(report["rubrics"])})
    return report
