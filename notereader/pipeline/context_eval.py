"""Measure the assertion-context stage on a NegEx/ConText-format test set.

The file is tab-separated with a header: line number, condition, sentence,
negation (Affirmed|Negated), temporality (Recent|Historical|Not particular),
experiencer (Patient|Family member|Other). "Not particular" is ConText's
hypothetical. The condition is located in the sentence case-insensitively;
rows where it cannot be found use the whole sentence as the target.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy

from notereader.pipeline.context import ContextRules, assess, find_cues


@dataclass(frozen=True)
class ContextRow:
    line: int
    condition: str
    sentence: str
    negated: bool
    historical: bool
    hypothetical: bool
    other_person: bool


def read_negex(path: Path) -> list[ContextRow]:
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader)
        for i, rec in enumerate(reader, start=2):
            if len(rec) < 6:
                continue
            _n, cond, sent, neg, temp, exp = rec[:6]
            rows.append(ContextRow(i, cond, sent, neg.strip().lower() == "negated",
                                   temp.strip().lower() == "historical",
                                   temp.strip().lower() == "not particular",
                                   exp.strip().lower() != "patient"))
    return rows


def locate(sentence: str, target: str) -> tuple[int, int]:
    """The target's span in the sentence.

    The set writes the annotated mention in capitals ("... cyanosis or EDEMA."), so a capitalised
    occurrence is taken before an earlier one in other case ("Schizophrenia: ... history of
    SCHIZOPHRENIA"); otherwise the first case-insensitive one.
    """
    upper = target.strip().upper()
    if upper != target.strip().lower():
        j = sentence.find(upper)
        if j >= 0:
            return j, j + len(upper)
    i = sentence.lower().find(target.lower().strip())
    if i >= 0:
        return i, i + len(target.strip())
    words = [w for w in re.findall(r"\w+", target.lower()) if len(w) > 2]
    for w in words:
        m = re.search(rf"\b{re.escape(w)}", sentence.lower())
        if m:
            return m.start(), m.end()
    return 0, len(sentence)


def _f1(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "support": tp + fn}


class ContextTagger:
    """The assertion stage on its own: text plus a target span in, context out."""

    def __init__(self) -> None:
        self.nlp = spacy.blank("en")
        self.rules = ContextRules(self.nlp)

    def tag(self, text: str, start: int, end: int) -> dict[str, Any]:
        doc = self.nlp.make_doc(text)
        ctx = find_cues(doc, self.rules)
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or len(span) == 0:
            ts, te = 0, len(doc)
        else:
            ts, te = span.start, span.end
        return assess(ctx, self.rules, ts, te, 0, len(doc)).as_dict()


def evaluate(path: Path, *, errors: int = 0) -> dict[str, Any]:
    tagger = ContextTagger()
    rows = read_negex(path)
    counts = {ax: [0, 0, 0] for ax in ("negated", "historical", "hypothetical", "other_person")}
    exact = 0
    mistakes: list[dict[str, Any]] = []
    for row in rows:
        s, e = locate(row.sentence, row.condition)
        got = tagger.tag(row.sentence, s, e)
        ok = True
        for ax, c in counts.items():
            gold = getattr(row, ax)
            # NegEx annotates a resolved condition as Negated; ours keeps
            # "resolved" apart, so it counts as negated on this axis.
            pred = bool(got[ax]) or (ax == "negated" and bool(got["resolved"]))
            if pred and gold:
                c[0] += 1
            elif pred and not gold:
                c[1] += 1
                ok = False
            elif gold and not pred:
                c[2] += 1
                ok = False
            if pred != gold and len(mistakes) < errors:
                mistakes.append({"line": row.line, "axis": ax, "gold": gold, "condition": row.condition,
                                 "sentence": row.sentence, "cues": got["cues"]})
        exact += ok
    result: dict[str, Any] = {ax: _f1(*c) for ax, c in counts.items()}
    result["all_axes_exact_accuracy"] = round(exact / len(rows), 3) if rows else 0.0
    result["rows"] = len(rows)
    result["rules_sha256"] = tagger.rules.sha256
    if errors:
        result["errors"] = mistakes
    return result
