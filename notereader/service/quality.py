"""Rubric quality: what supervisors' reviews say about each rubric's flags.

Shared by ``GET /v1/rubrics/quality`` and the analyst's quality page. For
each rubric, by month (of the flag's creation) and by rubric version (of the
finding the flag rests on now):

- raised: flags created;
- reviewed: flags a person (not the system) has acted on;
- dismissed: flags whose status is dismissed, with the reasons given;
- confirmed: reviewed flags that were not dismissed (acknowledged, escalated
  or resolved);
- precision: confirmed / (confirmed + dismissed), or null with no verdict yet.

Withdrawn flags (a newer analysis no longer raised them) count as raised but
not reviewed. The dismissed flags' cited sentences are listed so an analyst
can turn them into ``no_flag`` examples.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from notereader.store.models import Finding, Flag

SYSTEM_ACTOR = "system"


def _precision(confirmed: int, dismissed: int) -> float | None:
    decided = confirmed + dismissed
    return None if decided == 0 else round(confirmed / decided, 4)


def _row(key: dict[str, Any]) -> dict[str, Any]:
    return {**key, "raised": 0, "reviewed": 0, "dismissed": 0, "confirmed": 0, "precision": None}


def rubric_quality(session: Session, titles: dict[str, str], rubric_id: str | None = None) -> dict[str, Any]:
    """Figures per rubric, per (rubric, month) and per (rubric, version), and the dismissed flags."""
    q = select(Flag).options(selectinload(Flag.reviews), selectinload(Flag.finding).selectinload(Finding.rubric_version))
    if rubric_id:
        q = q.where(Flag.rubric_id == rubric_id)
    totals: dict[str, dict[str, Any]] = {}
    by_month: dict[tuple[str, str], dict[str, Any]] = {}
    by_version: dict[tuple[str, int | None], dict[str, Any]] = {}
    dismissed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for flag in session.scalars(q.order_by(Flag.id)):
        rv = flag.finding.rubric_version
        version = rv.version if rv is not None else None
        month = flag.created_at.strftime("%Y-%m")
        human = [r for r in flag.reviews if r.actor != SYSTEM_ACTOR]
        is_dismissed = flag.status == "dismissed"
        is_confirmed = bool(human) and not is_dismissed
        rows = (totals.setdefault(flag.rubric_id, _row({"rubric_id": flag.rubric_id, "title": titles.get(flag.rubric_id)})),
                by_month.setdefault((flag.rubric_id, month), _row({"rubric_id": flag.rubric_id, "month": month})),
                by_version.setdefault((flag.rubric_id, version), _row({"rubric_id": flag.rubric_id, "version": version})))
        for row in rows:
            row["raised"] += 1
            row["reviewed"] += bool(human)
            row["dismissed"] += is_dismissed
            row["confirmed"] += is_confirmed
        if is_dismissed:
            reason = next((r.reason for r in reversed(human) if r.action == "dismiss"), None)
            dismissed[flag.rubric_id].append({
                "flag_id": flag.id, "rubric_version": version, "note_id": flag.note_id, "reason": reason,
                "sentences": [c["quote"] for c in flag.finding.citations]})
    for table in (totals, by_month, by_version):
        for row in table.values():
            row["precision"] = _precision(row["confirmed"], row["dismissed"])
    rubrics = []
    for rid in sorted(totals):
        rubrics.append({
            **totals[rid],
            "by_month": [by_month[k] for k in sorted(k for k in by_month if k[0] == rid)],
            "by_version": [by_version[k] for k in sorted((k for k in by_version if k[0] == rid),
                                                          key=lambda k: (k[1] is None, k[1] or 0))],
            "dismissed_flags": dismissed.get(rid, []),
        })
    return {"definitions": {
        "raised": "flags created", "reviewed": "flags a supervisor acted on",
        "dismissed": "flags dismissed by a supervisor (reasons listed)",
        "confirmed": "reviewed flags not dismissed (acknowledged, escalated or resolved)",
        "precision": "confirmed / (confirmed + dismissed); null before any verdict"}, "rubrics": rubrics}
