"""Goal matching: which plan goals a note speaks to, and in which direction.

A clause speaks to a goal when its vector is near the goal's text (rounded
cosine >= GOAL_THRESHOLD). Its direction comes from cue data
(``data/goal_cues.yaml``): progress, setback, or a plain mention. A negated
progress cue ("did not attend") is a setback and a negated setback cue ("has
not missed") is progress; a planned step ("CM will refer") is a mention.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from notereader.paths import PIPELINE_DATA_DIR
from notereader.version import SCORE_DECIMALS

GOAL_CUES_PATH = PIPELINE_DATA_DIR / "goal_cues.yaml"
GOAL_THRESHOLD = 0.45
NEGATORS = {"not", "n't", "nt", "no", "never", "without", "didnt", "hasnt", "havent", "wasnt"}


@dataclass(frozen=True)
class GoalSignal:
    goal_id: str
    direction: str  # progress | setback | mentioned
    score: float
    clauses: tuple[int, ...]


class GoalCues:
    def __init__(self, nlp: Language, path: Path = GOAL_CUES_PATH) -> None:
        raw = path.read_bytes()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        data = yaml.safe_load(raw)
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for name in ("progress", "setback", "planned"):
            self.matcher.add(name, [nlp.make_doc(str(t)) for t in data[name]])
        self.names = {nlp.vocab.strings[n]: n for n in ("progress", "setback", "planned")}


def clause_direction(doc: Doc, cues: GoalCues, cs: int, ce: int) -> str:
    span = doc[cs:ce]
    found: dict[str, int] = {}
    negated_hits: dict[str, int] = {}
    for key, s, e in sorted(cues.matcher(span), key=lambda m: (m[1], -m[2])):
        name = cues.names[key]
        window = [t.lower_ for t in span[max(0, s - 3):s]]
        if name in ("progress", "setback") and any(w in NEGATORS for w in window):
            flipped = "setback" if name == "progress" else "progress"
            negated_hits[flipped] = negated_hits.get(flipped, 0) + 1
        else:
            found[name] = found.get(name, 0) + 1
    for k, v in negated_hits.items():
        found[k] = found.get(k, 0) + v
    prog, setb, plan = found.get("progress", 0), found.get("setback", 0), found.get("planned", 0)
    if plan and not prog and not setb:
        return "mentioned"
    if setb > prog:
        return "setback"
    if prog > setb:
        return "progress"
    if setb and prog:
        return "setback"
    return "mentioned"


def match_goals(doc: Doc, cues: GoalCues, goal_vecs: dict[str, np.ndarray]) -> list[GoalSignal]:
    goals = doc._.plan_goals or ()
    seg = doc._.segmentation
    clause_tokens = doc._.clause_tokens
    vecs = doc._.clause_vectors
    if not goals or not seg.clauses:
        return []
    mat = np.array([vecs[doc.text[c.start:c.end]] for c in seg.clauses], dtype=np.float64)
    out: list[GoalSignal] = []
    seen: set[str] = set()
    for goal_id, text in goals:
        if goal_id in seen or not text.strip():
            continue
        seen.add(goal_id)
        sims = np.round(mat @ goal_vecs[text], SCORE_DECIMALS)
        order = sorted(range(len(sims)), key=lambda i: (-sims[i], i))
        cands = [i for i in order if sims[i] >= GOAL_THRESHOLD]
        if not cands:
            continue
        chosen = None
        for i in cands:
            cs, ce, _ss, _se = clause_tokens[i]
            d = clause_direction(doc, cues, cs, ce)
            if d != "mentioned":
                chosen = (i, d)
                break
        if chosen is None:
            chosen = (cands[0], "mentioned")
        i, d = chosen
        out.append(GoalSignal(goal_id, d, float(round(float(sims[i]), SCORE_DECIMALS)), (i,)))
    return out
