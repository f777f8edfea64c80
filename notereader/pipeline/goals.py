"""Goal matching: which plan goals a note speaks to, and in which direction.

A clause speaks to a goal when its vector is near the goal's text (rounded
cosine >= GOAL_THRESHOLD), or when that cosine plus THEME_WEIGHT times the
cosine of their theme profiles (the theme rubrics' scores: a goal about ID
and a clause about a birth certificate share documentation_id) reaches
AREA_THRESHOLD. Clauses are ranked by the sum, less LABEL_PENALTY for a
clause too short to tell what happened (a header) and TITLE_PENALTY for a
short line that ends without a full stop (a note's or section's title line:
it names the goal's topic but not what happened), and BACKGROUND_PENALTY for
a clause that tells how things stood before ("had been stable on meds",
"history of"), and CONTACT_PENALTY for a clause of the note's first sentence
that records the contact itself ("home visit with", "called cl re:"). Among the CANDIDATES
nearest clauses within MARGIN of the best, the one chosen is the nearest
once a bonus for showing movement (1 - p(mentioned)) is added, and
CUE_BONUS when an explicit progress or setback cue is in it, since a note's
mention of a goal that moved is what a case worker wants surfaced. A clause
nearer another goal of the same plan is ranked down by OTHER_GOAL_WEIGHT
times the gap, so each goal tends to cite the clause that speaks to it
rather than one it shares a topic with.

Direction comes from a three-way classifier (progress, setback, mentioned)
fitted on ``data/goal_direction_examples.yaml``, with the cue lists of
``data/goal_cues.yaml`` as a second opinion: an explicit cue wins when the
classifier gives it at least CUE_SUPPORT; overlapping cues read as the
longest ("dropped off" is not "dropped"), and a phrase listed under
``not_cues`` hides the cue inside it ("reduced-fare", "relapse
prevention"), like ConText's pseudo-triggers. A negated progress cue ("did not
attend") counts as a setback, a negated setback cue ("has not missed") as
progress (once: the negator is not a setback of its own), and a planned step
with no movement cue ("CM will refer", "asked about") as a mention when the
classifier gives that at least PLANNED_SUPPORT.

The constants are gathered in ``GoalSettings``; the reader always uses the
defaults, and ``notereader eval-goals`` (``notereader/evaluate_goals.py``)
scores other values without running the rest of the pipeline again.
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
# A goal worded unlike the note ("Maintain employment" vs "got her first
# paycheck") is still spoken to when meaning plus life area reach this.
AREA_THRESHOLD = 0.3
# A clause of fewer than LABEL_WORDS words ("Move-in day", "SSI paperwork")
# names a topic (a title, a header line) rather than telling what happened.
LABEL_WORDS = 5
LABEL_PENALTY = 0.3
# A short line with no sentence punctuation ("Paid internship f/u - Dana (19)", "Program: adult
# diversion") titles the note or a section: it names the goal's topic better than any sentence
# but says nothing of what happened, so it is ranked down further.
TITLE_WORDS = 10
TITLE_PENALTY = 0.5
# A clause with a background cue (data/goal_cues.yaml: "had been", "history of") tells how things
# stood before the note's events, not what happened now.
BACKGROUND_PENALTY = 0.2
# A clause of the note's first sentence that records the contact ("Home visit with Ms. R at her
# apartment", "Called cl re: the ID appointment") introduces the note; the body says what happened.
CONTACT_PENALTY = 0.1
# Weight of the theme-profile cosine (same life area) added to the meaning cosine.
THEME_WEIGHT = 0.2
CANDIDATES = 5
# A clause nearer another goal of the plan than this one (in meaning plus life area) is ranked down by this
# share of the gap: "Dad completed parenting class #6" speaks to the parenting goal, not the supervision goal.
OTHER_GOAL_WEIGHT = 0.25
MARGIN = 0.1
MOVEMENT_BONUS = 0.4
# An explicit progress or setback cue ("missed", "signed the lease") adds this to a candidate.
CUE_BONUS = 0.1
CUE_SUPPORT = 0.1
PLANNED_SUPPORT = 0.1
DIRECTIONS = ("progress", "setback", "mentioned")
EXAMPLES_PATH = PIPELINE_DATA_DIR / "goal_direction_examples.yaml"
NEGATION_WINDOW = 3
NEGATORS = {"not", "n't", "nt", "no", "never", "without", "didnt", "hasnt", "havent", "wasnt"}


@dataclass(frozen=True)
class GoalSettings:
    """The weights and thresholds of goal matching, one field per module constant above.

    The reader always uses ``GoalSettings()`` (the constants); ``notereader eval-goals`` scores
    other values without running the rest of the pipeline again. Changing a default changes
    results, so it is an engine version change like any other.
    """

    goal_threshold: float = GOAL_THRESHOLD
    area_threshold: float = AREA_THRESHOLD
    label_words: int = LABEL_WORDS
    label_penalty: float = LABEL_PENALTY
    title_words: int = TITLE_WORDS
    title_penalty: float = TITLE_PENALTY
    background_penalty: float = BACKGROUND_PENALTY
    contact_penalty: float = CONTACT_PENALTY
    theme_weight: float = THEME_WEIGHT
    candidates: int = CANDIDATES
    other_goal_weight: float = OTHER_GOAL_WEIGHT
    margin: float = MARGIN
    movement_bonus: float = MOVEMENT_BONUS
    cue_bonus: float = CUE_BONUS
    cue_support: float = CUE_SUPPORT
    planned_support: float = PLANNED_SUPPORT


DEFAULT_SETTINGS = GoalSettings()


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
        for name in ("progress", "setback", "planned", "not_cues"):
            self.matcher.add(name, [nlp.make_doc(str(t)) for t in data.get(name, ())])
        self.names = {nlp.vocab.strings[n]: n for n in ("progress", "setback", "planned", "not_cues")}
        self.background = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.background.add("background", [nlp.make_doc(str(t)) for t in data.get("background", ())])
        self.contact = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.contact.add("contact", [nlp.make_doc(str(t)) for t in data.get("contact", ())])

    def is_background(self, doc: Doc, cs: int, ce: int) -> bool:
        """The clause tells the time before the note's events ("had been stable", "hx of")."""
        return bool(self.background(doc[cs:ce]))

    def is_contact(self, doc: Doc, cs: int, ce: int) -> bool:
        """The clause records the contact itself ("home visit with", "called cl", "arrived for")."""
        return bool(self.contact(doc[cs:ce]))


@dataclass(frozen=True)
class CueReading:
    direction: str  # progress | setback | planned | mentioned (no cue)
    negated: bool   # the direction rests on a negated cue ("has not missed", "never attended")


def _longest(matches) -> list[tuple[str, int, int]]:
    """Overlapping cues read as the longest one: "dropped off" (progress) is not "dropped" (setback),
    "filed for eviction" (setback) is not "filed" (progress)."""
    kept: list[tuple[str, int, int]] = []
    for m in sorted(matches, key=lambda m: (-(m[2] - m[1]), m[1], m[0])):
        if all(m[2] <= k[1] or m[1] >= k[2] for k in kept):
            kept.append(m)
    return kept


def clause_direction(doc: Doc, cues: GoalCues, cs: int, ce: int) -> CueReading:
    """The direction the clause's explicit cues show: progress, setback, planned, or mentioned (no cue).

    The matcher reports token offsets into the whole Doc, so the negation
    window is read from the Doc, never reaching back before the clause. A
    negator phrase that is itself a setback cue ("has not", "did not") and
    negates the cue after it ("has not missed") counts once, as the flipped
    cue, not a second time as a setback.
    """
    hits = sorted((m for m in _longest((cues.names[key], s, e) for key, s, e in cues.matcher(doc[cs:ce]))
                   if m[0] != "not_cues"), key=lambda m: (m[1], -m[2]))
    found: dict[str, int] = {}
    consumed: set[tuple[str, int, int]] = set()
    flipped: list[tuple[str, int, int]] = []
    for name, s, e in hits:
        if name not in ("progress", "setback"):
            continue
        lo = max(cs, s - NEGATION_WINDOW)
        if any(t.lower_ in NEGATORS for t in doc[lo:s]):
            flipped.append(("setback" if name == "progress" else "progress", s, e))
            consumed.add((name, s, e))
            consumed.update(h for h in hits if h[0] == "setback" and lo <= h[1] and h[2] <= s)
    for name, s, e in hits:
        if (name, s, e) not in consumed:
            found[name] = found.get(name, 0) + 1
    for name, _s, _e in flipped:
        found[name] = found.get(name, 0) + 1
    prog, setb, plan = found.get("progress", 0), found.get("setback", 0), found.get("planned", 0)
    if plan and not prog and not setb:
        return CueReading("planned", False)
    if setb > prog or (setb and prog == setb):
        d = "setback"
    elif prog > setb:
        d = "progress"
    else:
        return CueReading("mentioned", False)
    return CueReading(d, any(name == d for name, _s, _e in flipped))


def decide_direction(p: np.ndarray, cue: CueReading, settings: GoalSettings = DEFAULT_SETTINGS) -> str:
    """The classifier's direction, unless an explicit cue in the clause says otherwise.

    A progress or setback cue wins when the classifier gives that direction
    at least CUE_SUPPORT, or always when it rests on a negated cue (sentence
    vectors read "has not missed" much like "missed"); a planned step with no movement cue ("CM will
    call", "asked about") makes the clause a mention when the classifier
    gives "mentioned" at least PLANNED_SUPPORT.
    """
    d = DIRECTIONS[int(np.argmax(p))]
    if cue.direction in ("progress", "setback") and (cue.negated or p[DIRECTIONS.index(cue.direction)] >= settings.cue_support):
        return cue.direction
    if cue.direction == "planned" and p[DIRECTIONS.index("mentioned")] >= settings.planned_support:
        return "mentioned"
    return d


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
    return np.array([float(profiles[t] @ g) for t in doc._.scoring_texts])


def _is_title(text: str, start: int, end: int) -> bool:
    """The clause ends its line, and the line does not end a sentence ("IOP note - Dana", "Program: diversion")."""
    nl = text.find("\n", end)
    rest = text[end: nl if nl >= 0 else len(text)]
    return not rest.strip() and text[end - 1] not in ".!?"


def _label_penalties(doc: Doc, settings: GoalSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """LABEL_PENALTY for a clause too short to tell what happened, TITLE_PENALTY for a title line."""
    text = doc._.text if doc._.text is not None else doc.text
    out = []
    for (cs, ce, _ss, _se), c in zip(doc._.clause_tokens, doc._.segmentation.clauses):
        words = sum(1 for t in doc[cs:ce] if t.is_alpha)
        pen = settings.label_penalty if words < settings.label_words else 0.0
        if words < settings.title_words and _is_title(text, c.start, c.end):
            pen = max(pen, settings.title_penalty)
        out.append(pen)
    return np.array(out)


def other_goal_penalty(area: dict[str, np.ndarray], goal_text: str, weight: float = OTHER_GOAL_WEIGHT) -> np.ndarray:
    """Per clause, OTHER_GOAL_WEIGHT times how much nearer the plan's nearest other goal is than this one (or 0).

    ``area`` maps each distinct goal text of the plan to its clauses' closeness (meaning plus life area).
    """
    mine = area[goal_text]
    others = [v for t, v in area.items() if t != goal_text]
    if not others:
        return np.zeros_like(mine)
    return np.round(weight * np.maximum(0.0, np.max(others, axis=0) - mine), SCORE_DECIMALS)


def match_goals(doc: Doc, cues: GoalCues, goal_vecs: dict[str, np.ndarray], model: DirectionModel,
                settings: GoalSettings = DEFAULT_SETTINGS) -> list[GoalSignal]:
    goals = doc._.plan_goals or ()
    seg = doc._.segmentation
    clause_tokens = doc._.clause_tokens
    if not goals or not seg.clauses:
        return []
    mat = doc._.clause_matrix
    probs = model.predict(mat)
    label_penalty = _label_penalties(doc, settings) + np.array([
        (settings.background_penalty if cues.is_background(doc, cs, ce) else 0.0)
        + (settings.contact_penalty if c.sentence == 0 and cues.is_contact(doc, cs, ce) else 0.0)
        for (cs, ce, _ss, _se), c in zip(clause_tokens, seg.clauses)])
    readings = [clause_direction(doc, cues, cs, ce) for cs, ce, _ss, _se in clause_tokens]
    cue_bonus = np.array([settings.cue_bonus if r.direction in ("progress", "setback") else 0.0 for r in readings])
    out: list[GoalSignal] = []
    seen: set[str] = set()
    distinct = list(dict.fromkeys(t for _g, t in goals if t.strip()))
    meanings = {t: np.round(mat @ goal_vecs[t], SCORE_DECIMALS) for t in distinct}
    area = {t: np.round(meanings[t] + settings.theme_weight * _theme_similarity(doc, t), SCORE_DECIMALS)
            for t in distinct}
    for goal_id, text in goals:
        if goal_id in seen or not text.strip():
            continue
        seen.add(goal_id)
        meaning, sims = meanings[text], area[text]
        if float(np.max(meaning)) < settings.goal_threshold and float(np.max(sims)) < settings.area_threshold:
            continue  # the note never comes near the goal, in meaning or in life area
        sims = np.round(sims - other_goal_penalty(area, text, settings.other_goal_weight) - label_penalty,
                        SCORE_DECIMALS)
        order = sorted(range(len(sims)), key=lambda i: (-sims[i], i))[:settings.candidates]
        near = [i for i in order if sims[i] >= sims[order[0]] - settings.margin]
        i = max(near, key=lambda k: (round(float(sims[k] + settings.movement_bonus * (1 - probs[k][2]) + cue_bonus[k]),
                                           SCORE_DECIMALS), -k))
        d = decide_direction(probs[i], readings[i], settings)
        out.append(GoalSignal(goal_id, d, float(meaning[i]), (i,)))
    return out
