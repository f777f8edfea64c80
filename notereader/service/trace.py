"""Tracing one finding: its citations re-verified against the stored note, its rubric text and provenance.

Shared by ``GET /v1/findings/{id}/trace`` and the auditor's trace page. The
page adds ``rubric_diff``: the rubric's text at the finding's version against
the active rubric's text (difflib, unified), so an auditor sees what changed.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from notereader.rubrics.schema import RubricSet
from notereader.store.models import Finding


def paragraph_around(text: str, start: int, end: int) -> dict[str, Any]:
    """The blank-line-delimited paragraph around [start, end), with its offsets."""
    p_start = text.rfind("\n\n", 0, start)
    p_start = 0 if p_start < 0 else p_start + 2
    p_end = text.find("\n\n", end)
    p_end = len(text) if p_end < 0 else p_end
    return {"start": p_start, "end": p_end, "text": text[p_start:p_end]}


def trace_finding(finding: Finding) -> dict[str, Any]:
    """The trace of ``finding`` as the API returns it."""
    analysis = finding.analysis
    revision = analysis.revision
    text = revision.text
    citations = []
    for c in finding.citations:
        actual = text[c["start"]:c["end"]]
        citations.append({**c, "verified": actual == c["quote"], "paragraph": paragraph_around(text, c["start"], c["end"])})
    body = json.loads(analysis.body)
    rv = finding.rubric_version
    return {
        "finding_id": finding.id, "kind": finding.kind, "rubric_id": finding.rubric_id, "goal_id": finding.goal_id,
        "severity": finding.severity, "direction": finding.direction, "score": finding.score,
        "note": {"note_id": revision.note_id, "revision": revision.revision, "text_sha256": revision.text_sha256},
        "citations": citations,
        "all_verified": all(c["verified"] for c in citations),
        "rubric": None if rv is None else {"rubric_id": rv.rubric_id, "version": rv.version,
                                           "content_sha256": rv.content_sha256, "text": rv.text},
        "analysis": {"analysis_id": analysis.id, "fingerprint": analysis.fingerprint, "created_at": analysis.created_at},
        "provenance": body["provenance"],
    }


def rubric_diff(finding: Finding, active: RubricSet) -> dict[str, Any] | None:
    """The finding's rubric text against the active version of the same rubric (None for goal findings)."""
    rv = finding.rubric_version
    if rv is None:
        return None
    current = active.by_id().get(rv.rubric_id)
    if current is None:
        return {"current_version": None, "same": False, "lines": [],
                "message": f"rubric {rv.rubric_id!r} is no longer in the active rubric set"}
    lines = list(difflib.unified_diff(rv.text.splitlines(), current.text.splitlines(),
                                      fromfile=f"{rv.rubric_id} v{rv.version} (used)",
                                      tofile=f"{rv.rubric_id} v{current.version} (active)", lineterm=""))
    return {"current_version": current.version, "same": current.sha256 == rv.content_sha256, "lines": lines,
            "message": None}
