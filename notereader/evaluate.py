"""``notereader eval``: score the reader against an annotated corpus.

The corpus format is ``shared/corpus/TAXONOMY.md``'s: each line a note with
``gold: {risks, decoys, themes, goals}``. Figures:

- risk precision/recall/F1, micro and per rubric, over (note, rubric) pairs;
- critical-risk recall (self_harm, violence_to_others, domestic_violence,
  child_safeguarding);
- decoy trip rate: decoys whose rubric is raised with a citation that overlaps
  the decoy's evidence;
- citation hit rate: correctly raised risks with a citation overlapping the
  gold evidence; quote integrity: every citation has text[start:end] == quote;
- citation focus: over correctly raised risks, clauses cited per risk and the
  share of cited clauses that overlap the gold evidence (a hit rate bought by
  citing more clauses shows here as more clauses and a smaller share);
- theme micro-F1 over (note, theme) pairs; goal-direction accuracy over the
  gold goals (a goal not found counts as wrong);
- goal evidence: over the gold goals the reader found, the share whose cited
  clause overlaps the gold evidence, and the direction accuracy on those and
  on the rest. It tells the two causes of a wrong direction apart: the wrong
  clause chosen for the goal, or the right clause read the wrong way;
- goal confusion: gold direction by the direction given ("none" for a gold
  goal the reader did not find), which says which mistake is most common.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from notereader.notes import iter_json_objects, validate_note
from notereader.errors import InputError, Problem
from notereader.pipeline.context import CATEGORIES
from notereader.pipeline.goals import DIRECTIONS

CRITICAL = ("self_harm", "violence_to_others", "domestic_violence", "child_safeguarding")


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "tp": tp, "fp": fp, "fn": fn}


def _spans(text: str, evidence: str) -> list[tuple[int, int]]:
    out, i = [], text.find(evidence)
    while i >= 0 and evidence:
        out.append((i, i + len(evidence)))
        i = text.find(evidence, i + 1)
    return out


def _overlaps(cites: Iterable[dict[str, Any]], spans: list[tuple[int, int]]) -> bool:
    return any(c["start"] < e and s < c["end"] for c in cites for s, e in spans)


@dataclass
class Tally:
    risk: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    theme: list[int] = field(default_factory=lambda: [0, 0, 0])
    crit: list[int] = field(default_factory=lambda: [0, 0])
    decoys: list[int] = field(default_factory=lambda: [0, 0])
    decoy_by_why: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    cite: list[int] = field(default_factory=lambda: [0, 0])
    cited_clauses: list[int] = field(default_factory=lambda: [0, 0])  # on the gold evidence, all
    quotes: list[int] = field(default_factory=lambda: [0, 0])
    goals: list[int] = field(default_factory=lambda: [0, 0])
    goal_found: list[int] = field(default_factory=lambda: [0, 0, 0])
    # found gold goals: [cited on the evidence and right, on the evidence, elsewhere and right, elsewhere]
    goal_evidence: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    goal_confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: {g: {d: 0 for d in (*DIRECTIONS, "none")} for g in DIRECTIONS})
    errors: list[dict[str, Any]] = field(default_factory=list)


# A decoy's "why" is one of the reasons the context stage suppresses a mention; a goal's direction is one the
# goal stage gives.
DECOY_KINDS = CATEGORIES


def gold_problems(gold: dict[str, Any], text: str, goal_ids: set[str], where: str, line: int) -> list[Problem]:
    """Everything wrong with one note's gold, each named by its key path.

    An evidence string that is not in the text would silently count as a miss (no citation can
    overlap it), so it is an error, not a zero.
    """
    out: list[Problem] = []

    def bad(key: str, msg: str) -> None:
        out.append(Problem(where, line, f"gold.{key}", msg))

    for group in ("risks", "decoys", "themes", "goals"):
        if not isinstance(gold.get(group, []), list):
            bad(group, "must be a list")
            return out
    for group, need in (("risks", ("rubric", "evidence")), ("decoys", ("rubric", "evidence", "why")),
                        ("goals", ("goal_id", "direction", "evidence"))):
        for i, item in enumerate(gold.get(group, [])):
            key = f"{group}[{i}]"
            if not isinstance(item, dict):
                bad(key, "must be an object")
                continue
            for k in need:
                if not isinstance(item.get(k), str) or not item[k]:
                    bad(f"{key}.{k}", "is required (a non-empty string)")
            ev = item.get("evidence")
            if isinstance(ev, str) and ev and ev not in text:
                bad(f"{key}.evidence", "is not an exact substring of the note's text (copy it character for character)")
            if group == "decoys" and isinstance(item.get("why"), str) and item["why"] not in DECOY_KINDS:
                bad(f"{key}.why", f"{item['why']!r} is not one of {', '.join(DECOY_KINDS)}")
            if group == "goals":
                if isinstance(item.get("direction"), str) and item["direction"] not in DIRECTIONS:
                    bad(f"{key}.direction", f"{item['direction']!r} is not one of {', '.join(DIRECTIONS)}")
                if isinstance(item.get("goal_id"), str) and item["goal_id"] not in goal_ids:
                    bad(f"{key}.goal_id", f"{item['goal_id']!r} is not a goal of the note's plan")
    for i, theme in enumerate(gold.get("themes", [])):
        if not isinstance(theme, str) or not theme:
            bad(f"themes[{i}]", "must be a theme id")
    return out


def read_corpus(path: Path) -> list[tuple[Any, dict[str, Any]]]:
    problems: list[Problem] = []
    out = []
    for lineno, obj in iter_json_objects(path):
        note, errs = validate_note(obj, str(path), lineno)
        problems += errs
        if note is not None:
            gold = obj.get("gold")
            if not isinstance(gold, dict):
                problems.append(Problem(str(path), lineno, "gold", "is required for evaluation: {risks, decoys, themes, goals}"))
                continue
            found = gold_problems(gold, note.text, {gid for gid, _ in note.goals}, str(path), lineno)
            if found:
                problems += found
                continue
            out.append((note, gold))
    if problems:
        raise InputError(problems)
    return out


def read_corpora(paths: list[Path]) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """Every corpus read and checked before any is scored; the problems of all of them are reported at once."""
    out: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            out[str(path)] = read_corpus(path)
        except InputError as e:
            problems += e.problems
    if problems:
        raise InputError(problems)
    return out


def score(corpus: list[tuple[Any, dict[str, Any]]], analyses: list[dict[str, Any]], keep_errors: bool = False) -> dict[str, Any]:
    t = Tally()
    for (note, gold), a in zip(corpus, analyses):
        text = note.text
        for group in ("risks", "themes", "goals", "suppressed"):
            for item in a[group]:
                for c in item["citations"]:
                    t.quotes[1] += 1
                    t.quotes[0] += text[c["start"]:c["end"]] == c["quote"]
        pred = {r["rubric_id"]: r for r in a["risks"]}
        gold_risks: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for g in gold.get("risks", []):
            gold_risks[g["rubric"]] += _spans(text, g["evidence"])
        for rid in sorted(set(pred) | set(gold_risks)):
            c = t.risk[rid]
            if rid in pred and rid in gold_risks:
                c[0] += 1
                t.cite[1] += 1
                hit = _overlaps(pred[rid]["citations"], gold_risks[rid])
                t.cite[0] += hit
                for cit in pred[rid]["citations"]:
                    t.cited_clauses[1] += 1
                    t.cited_clauses[0] += _overlaps([cit], gold_risks[rid])
                if keep_errors and not hit:
                    t.errors.append({"note_id": note.note_id, "kind": "citation_miss", "rubric": rid,
                                     "evidence": [text[s:e] for s, e in gold_risks[rid]],
                                     "quotes": [x["quote"] for x in pred[rid]["citations"]]})
            elif rid in pred:
                c[1] += 1
                if keep_errors:
                    t.errors.append({"note_id": note.note_id, "kind": "risk_fp", "rubric": rid,
                                     "quotes": [x["quote"] for x in pred[rid]["citations"]]})
            else:
                c[2] += 1
                if keep_errors:
                    t.errors.append({"note_id": note.note_id, "kind": "risk_fn", "rubric": rid,
                                     "evidence": [text[s:e] for s, e in gold_risks[rid]]})
            if rid in CRITICAL and rid in gold_risks:
                t.crit[1] += 1
                t.crit[0] += rid in pred
        for d in gold.get("decoys", []):
            spans = _spans(text, d["evidence"])
            tripped = d["rubric"] in pred and _overlaps(pred[d["rubric"]]["citations"], spans)
            t.decoys[1] += 1
            t.decoys[0] += tripped
            t.decoy_by_why[d.get("why", "?")][1] += 1
            t.decoy_by_why[d.get("why", "?")][0] += tripped
            if tripped and keep_errors:
                t.errors.append({"note_id": note.note_id, "kind": "decoy_tripped", "rubric": d["rubric"],
                                 "why": d.get("why"), "evidence": d["evidence"]})
        pt = {x["rubric_id"] for x in a["themes"]}
        gt = set(gold.get("themes", []))
        t.theme[0] += len(pt & gt)
        t.theme[1] += len(pt - gt)
        t.theme[2] += len(gt - pt)
        if keep_errors and pt != gt:
            t.errors.append({"note_id": note.note_id, "kind": "themes", "missing": sorted(gt - pt), "extra": sorted(pt - gt)})
        pg = {g["goal_id"]: g for g in a["goals"]}
        gg = {g["goal_id"]: g for g in gold.get("goals", [])}
        for gid, g in gg.items():
            p = pg.get(gid)  # the reader's signal for this gold goal, or None when it did not find the goal
            got = p["direction"] if p else None
            ok = got == g["direction"]
            on_evidence = p is not None and _overlaps(p["citations"], _spans(text, g["evidence"]))
            t.goals[1] += 1
            t.goals[0] += ok
            t.goal_confusion[g["direction"]][got or "none"] += 1
            if p is not None:
                k = 0 if on_evidence else 2
                t.goal_evidence[k] += ok
                t.goal_evidence[k + 1] += 1
            if keep_errors and not ok:
                t.errors.append({"note_id": note.note_id, "kind": "goal", "goal_id": gid, "gold": g["direction"],
                                 "got": got, "evidence": g.get("evidence"),
                                 "cited": p["citations"][0]["quote"] if p else None, "on_evidence": on_evidence})
        t.goal_found[0] += len(set(pg) & set(gg))
        t.goal_found[1] += len(set(pg) - set(gg))
        t.goal_found[2] += len(set(gg) - set(pg))
    tp = sum(c[0] for c in t.risk.values())
    fp = sum(c[1] for c in t.risk.values())
    fn = sum(c[2] for c in t.risk.values())
    out: dict[str, Any] = {
        "notes": len(analyses),
        "risk_micro": _prf(tp, fp, fn),
        "risk_per_rubric": {rid: _prf(*c) for rid, c in sorted(t.risk.items())},
        "critical_recall": round(t.crit[0] / t.crit[1], 3) if t.crit[1] else None,
        "decoy_trip_rate": round(t.decoys[0] / t.decoys[1], 3) if t.decoys[1] else None,
        "decoy_trip_by_why": {k: f"{v[0]}/{v[1]}" for k, v in sorted(t.decoy_by_why.items())},
        "citation_hit_rate": round(t.cite[0] / t.cite[1], 3) if t.cite[1] else None,
        "citation_focus": {
            "clauses_per_risk": round(t.cited_clauses[1] / t.cite[1], 2) if t.cite[1] else None,
            "share_on_evidence": round(t.cited_clauses[0] / t.cited_clauses[1], 3) if t.cited_clauses[1] else None,
        },
        "quote_integrity": round(t.quotes[0] / t.quotes[1], 4) if t.quotes[1] else 1.0,
        "theme_micro": _prf(*t.theme),
        "goal_direction_accuracy": round(t.goals[0] / t.goals[1], 3) if t.goals[1] else None,
        "goal_detection": _prf(*t.goal_found),
        "goal_evidence": _goal_evidence(t.goal_evidence),
        "goal_confusion": t.goal_confusion,
    }
    if keep_errors:
        out["errors"] = t.errors
    return out


def _goal_evidence(c: list[int]) -> dict[str, Any]:
    found = c[1] + c[3]
    return {
        "found": found,
        "on_evidence": round(c[1] / found, 3) if found else None,
        "direction_on_evidence": round(c[0] / c[1], 3) if c[1] else None,
        "direction_elsewhere": round(c[2] / c[3], 3) if c[3] else None,
    }


def format_comparison(results: dict[str, dict[str, Any]]) -> str:
    """One line per corpus: the headline figures side by side."""
    def f(x: Any) -> str:
        return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)

    head = ("corpus", "notes", "risk F1", "critical", "decoys", "citations", "themes F1", "goal dir", "goal on ev")
    rows = [head]
    for path, r in results.items():
        rows.append((Path(path).name, str(r["notes"]), f(r["risk_micro"]["f1"]), f(r["critical_recall"]),
                     f(r["decoy_trip_rate"]), f(r["citation_hit_rate"]), f(r["theme_micro"]["f1"]),
                     f(r["goal_direction_accuracy"]), f(r["goal_evidence"]["on_evidence"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in rows)


def format_report(r: dict[str, Any]) -> str:
    lines = [f"notes: {r['notes']}"]
    m = r["risk_micro"]
    lines.append(f"risk micro    P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  (tp {m['tp']} fp {m['fp']} fn {m['fn']})")
    lines.append(f"critical recall {r['critical_recall']}   decoy trip rate {r['decoy_trip_rate']}   {r['decoy_trip_by_why']}")
    cf = r["citation_focus"]
    lines.append(f"citation hit rate {r['citation_hit_rate']}   quote integrity {r['quote_integrity']}   "
                 f"clauses cited per risk {cf['clauses_per_risk']}, {cf['share_on_evidence']} of them on the evidence")
    tm = r["theme_micro"]
    lines.append(f"theme micro   P {tm['precision']:.3f}  R {tm['recall']:.3f}  F1 {tm['f1']:.3f}")
    gd = r["goal_detection"]
    lines.append(f"goal direction accuracy {r['goal_direction_accuracy']}   goal detection P {gd['precision']} R {gd['recall']}")
    ge = r["goal_evidence"]
    lines.append(f"goal evidence: {ge['on_evidence']} of {ge['found']} found goals cited on the gold evidence; "
                 f"direction accuracy there {ge['direction_on_evidence']}, elsewhere {ge['direction_elsewhere']}")
    lines.append("goal confusion (gold -> given): " + "; ".join(
        f"{g} -> " + " ".join(f"{d} {n}" for d, n in row.items()) for g, row in r["goal_confusion"].items()))
    lines.append("per rubric:")
    for rid, v in r["risk_per_rubric"].items():
        lines.append(f"  {rid:24s} P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  (tp {v['tp']} fp {v['fp']} fn {v['fn']})")
    return "\n".join(lines)
