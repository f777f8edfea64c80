"""Goal matching: which plan goals a note speaks to, and in which direction.

A clause speaks to a goal when its vector is near the goal's text (rounded
cosine >= GOAL_THRESHOLD). Clauses are ranked by that cosine plus
THEME_WEIGHT times the cosine of their theme profiles (the theme rubrics'
scores: a goal about ID and a clause about a birth certificate share
documentation_id). Among the CANDIDATES nearest clauses within
MARGIN of the best, the one chosen is the nearest once a bonus for showing
movement (1 - p(mentioned)) is added, since a note's mention of a goal that
moved is what a case worker wants surfaced.

Direction comes from a three-way classifier (progress, setback, mentioned)
fitted on ``data/goal_direction_examples.yaml``, with the cue lists of
``data/goal_cues.yaml`` as a second opinion: an explicit cue wins when the
classifier gives it at least CUE_SUPPORT. A negated progress cue ("did not
attend") counts as a setback, a negated setback cue ("has not missed") as
progress, and a planned step ("CM will refer") as a mention.
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
GOAL_THRESHOLD = 0.2
# Weight of the theme-profile cosine (same life area) added to the meaning cosine.
THEME_WEIGHT = 0.2
CANDIDATES = 3
MARGIN = 0.1
MOVEMENT_BONUS = 0.4
CUE_SUPPORT = 0.2
DIRECTIONS = ("progress", "setback", "mentioned")
EXAMPLES_PATH = PIPELINE_DATA_DIR / "goal_direction_examples.yaml"
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
    for key, s, _e in sorted(cues.matcher(span), key=lambda m: (m[1], -m[2])):
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


def load_direction_examples(path: Path = EXAMPLES_PATH) -> tuple[dict[str, tuple[str, ...]], str]:
    raw = path.read_bytes()
    data = yaml.safe_load(raw)
    return {d: tuple(str(x) for x in data[d]) for d in DIRECTIONS}, hashlib.sha256(raw).hexdigest()


class DirectionModel:
    """Multinomial logistic regression over clause vectors: progress/setback/mentioned."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = W, b

    @classmethod
    def fit(cls, examples: dict[str, tuple[str, ...]], vectors: dict[str, np.ndarray]) -> "DirectionModel":
        from sklearn.linear_model import LogisticRegression

        X = np.array([vectors[t] for d in DIRECTIONS for t in examples[d]])
        y = np.array([i for i, d in enumerate(DIRECTIONS) for _t in examples[d]])
        model = LogisticRegression(C=3.0, max_iter=5000).fit(X, y)
        return cls(model.coef_.astype(np.float64), model.intercept_.astype(np.float64))

    def predict(self, X: np.ndarray) -> np.ndarray:
        z = X @ self.W.T + self.b
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.round(e / e.sum(axis=1, keepdims=True), SCORE_DECIMALS)


def _theme_similarity(doc: Doc, goal_text: str) -> np.ndarray:
    """Cosine between the goal's theme profile and each clause's (zeros when not available)."""
    profiles = doc._.theme_profiles or {}
    clauses = doc._.segmentation.clauses
    g = profiles.get(goal_text)
    if g is None:
        return np.zeros(len(clauses))
    return np.array([float(profiles[t] @ g) for t in doc._.clause_texts])


def match_goals(doc: Doc, cues: GoalCues, goal_vecs: dict[str, np.ndarray], model: DirectionModel) -> list[GoalSignal]:
    goals = doc._.plan_goals or ()
    seg = doc._.segmentation
    clause_tokens = doc._.clause_tokens
    if not goals or not seg.clauses:
        return []
    mat = doc._.clause_matrix
    probs = model.predict(mat)
    out: list[GoalSignal] = []
    seen: set[str] = set()
    for goal_id, text in goals:
        if goal_id in seen or not text.strip():
            continue
        seen.add(goal_id)
        meaning = np.round(mat @ goal_vecs[text], SCORE_DECIMALS)
        if float(np.max(meaning)) < GOAL_THRESHOLD:
            continue  # the note never comes near the goal in meaning
        sims = np.round(meaning + THEME_WEIGHT * _theme_similarity(doc, text), SCORE_DECIMALS)
        order = sorted(range(len(sims)), key=lambda i: (-sims[i], i))[:CANDIDATES]
        near = [i for i in order if sims[i] >= sims[order[0]] - MARGIN]
        i = max(near, key=lambda k: (round(float(sims[k] + MOVEMENT_BONUS * (1 - probs[k][2])), SCORE_DECIMALS), -k))
        p = probs[i]
        d = DIRECTIONS[int(np.argmax(p))]
        cs, ce, _ss, _se = clause_tokens[i]
        cue_d = clause_direction(doc, cues, cs, ce)
        if cue_d != "mentioned" and p[DIRECTIONS.index(cue_d)] >= CUE_SUPPORT:
            d = cue_d
        out.append(GoalSignal(goal_id, d, float(meaning[i]), (i,)))
    return out
