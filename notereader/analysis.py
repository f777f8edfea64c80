"""Analysis v1: the record notereader writes for one note.

Built from an annotated Doc as plain data: findings with citations (character
offsets into the text as received, ``text[start:end] == quote``), the
"why not flagged" list, and provenance. ``fingerprint`` is the SHA-256 of the
canonical JSON of everything else, so equal fingerprints mean equal results.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from spacy.tokens import Doc

from notereader.rubrics.schema import SEVERITY_RANK, RubricSet
from notereader.version import ANALYSIS_SCHEMA

MAX_CITATIONS = 3
# Sections that hold the worker's assessment or plan: a finding's evidence is
# what was observed or said, so clauses here are cited only after the others.
RESPONSE_SECTIONS = frozenset({"a", "p", "assessment", "plan", "next steps", "next step", "follow up", "follow-up",
                               "followup", "action"})


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def fingerprint(analysis: dict[str, Any]) -> str:
    body = {k: v for k, v in analysis.items() if k != "fingerprint"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def _citation(doc: Doc, clause_index: int) -> dict[str, Any]:
    c = doc._.segmentation.clauses[clause_index]
    return {"start": c.start, "end": c.end, "paragraph": c.paragraph, "quote": doc._.clause_texts[clause_index]}


def _in_response_section(doc: Doc, clause_index: int) -> bool:
    """Is the clause in an assessment or plan section (the worker's response, not what was observed)?"""
    seg = doc._.segmentation
    section = seg.sentences[seg.clauses[clause_index].sentence].section
    return section is not None and section.strip().lower() in RESPONSE_SECTIONS


def _cite(doc: Doc, scored: list[tuple[float, int]]) -> list[dict[str, Any]]:
    """The clauses a finding rests on: what was observed or said first, then the strongest score."""
    top = sorted(scored, key=lambda sc: (_in_response_section(doc, sc[1]), -sc[0], sc[1]))[:MAX_CITATIONS]
    return [_citation(doc, ci) for ci in sorted({ci for _s, ci in top})]


def build_analysis(doc: Doc, ruleset: RubricSet, provenance: dict[str, Any]) -> dict[str, Any]:
    rubrics = ruleset.by_id()
    raised: dict[str, list[tuple[float, int]]] = {}
    support: dict[str, list[tuple[float, int]]] = {}
    suppressed = []
    for hit in doc._.rubric_hits:
        if hit.support:
            support.setdefault(hit.rubric_id, []).append((hit.score, hit.clause))
        elif hit.suppressed_by is None:
            raised.setdefault(hit.rubric_id, []).append((hit.score, hit.clause))
        else:
            suppressed.append(hit)
    risks, themes = [], []
    for rid in sorted(raised):
        r = rubrics[rid]
        item: dict[str, Any] = {
            "rubric_id": rid, "rubric_version": r.version, "title": r.title,
            "score": max(s for s, _ in raised[rid]), "citations": _cite(doc, raised[rid] + support.get(rid, [])),
        }
        if r.kind == "risk":
            item["severity"] = r.severity
            risks.append(item)
        else:
            themes.append(item)
    risks.sort(key=lambda x: (-SEVERITY_RANK[x["severity"]], -x["score"], x["rubric_id"]))
    # A theme that a raised risk implies ("safety" when domestic violence is
    # raised) is discussed by that note, on the risk's own evidence.
    raised_theme_ids = {t["rubric_id"] for t in themes}
    for r in ruleset.rubrics:
        if r.kind != "theme" or r.id in raised_theme_ids:
            continue
        sources = [x for x in risks if x["rubric_id"] in r.implied_by]
        if sources:
            best = max(sources, key=lambda x: (x["score"], x["rubric_id"]))
            themes.append({"rubric_id": r.id, "rubric_version": r.version, "title": r.title, "score": best["score"],
                           "citations": best["citations"], "implied_by": best["rubric_id"]})
    themes.sort(key=lambda x: x["rubric_id"])
    supp = []
    seen = set()
    for hit in sorted(suppressed, key=lambda h: (h.clause, h.rubric_id)):
        key = (hit.rubric_id, hit.clause)
        if key in seen:
            continue
        seen.add(key)
        supp.append({
            "rubric_id": hit.rubric_id, "rubric_version": rubrics[hit.rubric_id].version,
            "reason": hit.suppressed_by, "cue": hit.cue,
            "cue_span": {"start": hit.cue_start, "end": hit.cue_end},
            "score": hit.score, "citations": [_citation(doc, hit.clause)],
        })
    goals = [
        {"goal_id": g.goal_id, "direction": g.direction, "score": g.score,
         "citations": [_citation(doc, ci) for ci in g.clauses]}
        for g in (doc._.goal_hits or [])
    ]
    analysis: dict[str, Any] = {
        "schema": ANALYSIS_SCHEMA,
        "note_id": doc._.note_id,
        "text_sha256": text_sha256(doc.text),
        "risks": risks,
        "themes": themes,
        "goals": goals,
        "suppressed": supp,
        "provenance": provenance,
    }
    analysis["fingerprint"] = fingerprint(analysis)
    return analysis
