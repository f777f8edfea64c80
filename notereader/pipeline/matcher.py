"""Rubric matching: literal phrases, and plain-language statements by meaning.

Each clause of a note is embedded once (by the caller, for the whole batch).
Its meaning score for every rubric comes from the rubric's classifier
(``classifier.py``) in one matrix product; the nearest ``look_for`` statement
is kept as the evidence shown to people. Scores are rounded to
SCORE_DECIMALS before any comparison with a threshold. The assertion-context
stage then decides whether each match is raised or suppressed, and by which
cue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from notereader.pipeline.classifier import RubricClassifiers
from notereader.pipeline.context import ContextRules, assess, find_cues
from notereader.rubrics.schema import Rubric, RubricSet
from notereader.version import SCORE_DECIMALS

# Used when a rubric sets no threshold of its own. Critical risks trade
# precision for recall: a missed safeguarding concern costs more than a
# supervisor's dismissal.
DEFAULT_THRESHOLDS = {"critical": 0.5, "high": 0.6, "medium": 0.7, "theme": 0.5}


def default_threshold(rubric: Rubric) -> float:
    return DEFAULT_THRESHOLDS[rubric.severity if rubric.kind == "risk" and rubric.severity else "theme"]
PHRASE_SCORE = 1.0
# A clause this short ("Linda agreed.") carries too little meaning to raise a
# rubric on meaning alone; literal phrases still count.
MIN_MEANING_WORDS = 4
CLAUSE_MIN_COVER = 0.4
# A risk raised in a note is cited on every clause that reads as it: the
# clauses over the threshold, and those within CITE_MARGIN under it that
# the context stage would not suppress (a first-hand account worded less
# like the rubric than the worker's summary of it).
CITE_MARGIN = 0.15
# A rubric raised by a literal phrase in a clause that does not read as the rubric also cites the clause
# nearest it in meaning, if it scores this.
PHRASE_SUPPORT_FLOOR = 0.05


@dataclass(frozen=True)
class UnitHit:
    """A rubric matched in one clause: raised, or suppressed with a reason."""

    rubric_id: str
    clause: int
    score: float
    via: str                 # "phrase" or "meaning"
    evidence: str            # the phrase, or the look_for statement nearest in meaning
    suppressed_by: str | None  # a context category, or None when raised
    cue: str | None
    cue_start: int | None
    cue_end: int | None
    # True: the clause scored within CITE_MARGIN under the threshold and no
    # context cue stops it. It raises nothing; if the rubric is raised in the
    # note on other clauses, it is cited with them as supporting evidence.
    support: bool = False


def rnd(x: float) -> float:
    return float(round(float(x), SCORE_DECIMALS))


class RubricIndex:
    """The rubrics' statements as matrices and phrases as a PhraseMatcher."""

    def __init__(self, nlp: Language, rules: ContextRules, ruleset: RubricSet, vectors: dict[str, np.ndarray],
                 classifiers: "RubricClassifiers") -> None:
        self.classifiers = classifiers
        self.ruleset = ruleset
        self.rubrics: tuple[Rubric, ...] = ruleset.rubrics
        self.rules = rules
        self.thresholds = np.array(
            [r.threshold if r.threshold is not None else default_threshold(r) for r in self.rubrics]
        )
        self.is_risk = np.array([r.kind == "risk" for r in self.rubrics], dtype=bool)
        lf_rows, lf_owner = [], []
        self.statements: list[str] = []
        self.statement_ignore: list[frozenset[str]] = []
        tagger_nlp = nlp
        for i, r in enumerate(self.rubrics):
            for s in r.look_for:
                lf_rows.append(vectors[s])
                lf_owner.append(i)
                self.statements.append(s)
                self.statement_ignore.append(_cue_literals_of(tagger_nlp, rules, s))
        dim = len(next(iter(vectors.values()))) if vectors else 384
        self.lf = np.array(lf_rows, dtype=np.float64).reshape(-1, dim)
        self.lf_owner = np.array(lf_owner, dtype=np.int64)
        self.lf_ranges = [(lf_owner.index(i), len(lf_owner) - lf_owner[::-1].index(i)) if i in lf_owner else (0, 0)
                          for i in range(len(self.rubrics))]
        self.phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._phrase_rubric: dict[int, int] = {}
        for i, r in enumerate(self.rubrics):
            if r.phrases:
                key = f"rubric:{r.id}"
                self.phrases.add(key, [nlp.make_doc(p) for p in r.phrases])
                self._phrase_rubric[nlp.vocab.strings[key]] = i

    def scores(self, clause_vecs: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rounded classifier score, index of the nearest look_for statement) per clause x rubric."""
        n, k = clause_vecs.shape[0], len(self.rubrics)
        best_idx = np.full((n, k), -1, dtype=np.int64)
        if n == 0:
            return np.zeros((0, k)), best_idx
        probs = np.round(self.classifiers.predict(clause_vecs, texts), SCORE_DECIMALS)
        sims = clause_vecs @ self.lf.T
        # look_for rows are grouped by rubric; the first of equally near statements wins (np.argmax)
        for ri, (lo, hi) in enumerate(self.lf_ranges):
            if hi > lo:
                best_idx[:, ri] = lo + np.argmax(sims[:, lo:hi], axis=1)
        return probs, best_idx

    def theme_profiles(self, vectors: np.ndarray, texts: list[str]) -> dict[str, np.ndarray]:
        """Each text's theme scores as a unit vector: which life areas it is about.

        Goal matching compares a plan goal with a clause by these as well as
        by meaning ("Obtain a state ID" and "ordered her birth certificate"
        are both about documentation).
        """
        cols = [i for i, r in enumerate(self.rubrics) if r.kind == "theme"]
        if not texts or not cols:
            return {}
        probs = np.round(self.classifiers.predict(vectors, texts)[:, cols], SCORE_DECIMALS)
        norms = np.linalg.norm(probs, axis=1, keepdims=True)
        unit = probs / np.where(norms > 0, norms, 1.0)
        return dict(zip(texts, unit))

    def match_doc(self, doc: Doc) -> list[UnitHit]:
        seg = doc._.segmentation
        ctx = doc._.context
        clause_tokens = doc._.clause_tokens
        clauses = seg.clauses
        if not clauses:
            return []
        best, best_idx = self.scores(doc._.clause_matrix, doc._.scoring_texts)
        heard = self._heard_scores(doc, best)
        # phrase matches per clause
        phrase_hits: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
        tok_clause = _token_to_clause(len(doc), clause_tokens)
        for key, start, end in self.phrases(doc):
            ci = tok_clause[start]
            if ci < 0:
                continue
            ri = self._phrase_rubric[key]
            phrase_hits.setdefault((ci, ri), []).append((start, end, doc[start:end].text))
        hits: list[UnitHit] = []
        # Only cells near or over their threshold, or with a phrase, can produce a hit; the exact
        # comparison below decides. (A pre-filter: skipping the rest changes nothing.)
        support_floor = np.where(self.is_risk, self.thresholds - CITE_MARGIN, self.thresholds)
        near = heard >= support_floor[None, :] - 1e-6
        for ci in range(len(clauses)):
            candidates = set(np.flatnonzero(near[ci]).tolist()) | {ri for (c, ri) in phrase_hits if c == ci}
            if not candidates:
                continue
            cs, ce, ss, se = clause_tokens[ci]
            on_meaning = _may_raise_on_meaning(doc, cs, ce)
            for ri in sorted(candidates):
                rubric = self.rubrics[ri]
                sem = rnd(best[ci, ri])
                semantic = on_meaning and sem >= self.thresholds[ri]
                phr = phrase_hits.get((ci, ri), [])
                if not semantic and not phr:
                    if on_meaning and rnd(heard[ci, ri]) >= rnd(support_floor[ri]):
                        support = self._support(ctx, rubric, ci, cs, ce, ss, se, rnd(heard[ci, ri]),
                                                int(best_idx[ci, ri]))
                        if support is not None:
                            hits.append(support)
                    continue
                hit = self._decide(ctx, rubric, ci, cs, ce, ss, se, sem, semantic, int(best_idx[ci, ri]), phr)
                if hit is not None:
                    hits.append(hit)
        hits += self._what_phrases_were_about(doc, hits, best, best_idx)
        return hits

    def _heard_scores(self, doc: Doc, best: np.ndarray) -> np.ndarray:
        """``best``, raised for each clause with quoted first-person words to its nearer reported reading (risks).

        These scores only decide whether a clause is cited as support for a risk raised in the note
        (``speech.py``): a client's own words ("he swung his cane at me") are the evidence an auditor
        needs, but read unlike the rubrics' third-person statements. They raise nothing themselves.
        """
        readings = doc._.reported_texts or ()
        rows = [i for i, r in enumerate(readings) if r]
        if not rows:
            return best
        heard = best.copy()
        for k in range(max(len(readings[i]) for i in rows)):
            take = [i for i in rows if len(readings[i]) > k]
            texts = [readings[i][k] for i in take]
            scores, _idx = self.scores(np.array([doc._.clause_vectors[t] for t in texts], dtype=np.float64), texts)
            heard[take] = np.maximum(heard[take], scores)
        return np.where(self.is_risk[None, :], heard, best)

    def _what_phrases_were_about(self, doc: Doc, hits: list[UnitHit], best: np.ndarray,
                                 best_idx: np.ndarray) -> list[UnitHit]:
        """For a rubric raised by a phrase in a clause that does not read as it, the clause that does, as support.

        A phrase often names the worker's response ("a report to the DCFS hotline") while what was seen
        or said is worded like nothing in the rubric; that clause, the nearest in meaning in the note not
        already cited, is what an auditor needs cited beside the phrase, whether or not another clause
        raised the rubric by meaning too. Only if no context cue stops it and it scores at least
        PHRASE_SUPPORT_FLOOR. A phrase in a clause that itself scores over the threshold ("the landlord
        served an eviction notice") is the evidence, and brings no guess.
        """
        by_rubric: dict[str, list[UnitHit]] = {}
        for h in hits:
            by_rubric.setdefault(h.rubric_id, []).append(h)
        out: list[UnitHit] = []
        ctx, clause_tokens = doc._.context, doc._.clause_tokens
        for ri, rubric in enumerate(self.rubrics):
            mine = by_rubric.get(rubric.id, [])
            raised = [h for h in mine if h.suppressed_by is None and not h.support]
            # a phrase in a clause that does not itself read as the rubric names something else
            # (the report, the referral) than what was seen
            if not any(h.via == "phrase" and rnd(best[h.clause, ri]) < self.thresholds[ri] for h in raised):
                continue
            taken = {h.clause for h in mine}
            order = sorted(range(len(clause_tokens)), key=lambda c: (-rnd(best[c, ri]), c))
            for ci in order:
                sem = rnd(best[ci, ri])
                if sem < PHRASE_SUPPORT_FLOOR:
                    break
                if ci in taken:
                    continue
                cs, ce, ss, se = clause_tokens[ci]
                if not _may_raise_on_meaning(doc, cs, ce):
                    continue
                support = self._support(ctx, rubric, ci, cs, ce, ss, se, sem, int(best_idx[ci, ri]))
                if support is not None:
                    out.append(support)
                    break  # only the nearest clause that could be evidence: the next ones are guesses
                # a clause a context cue stops ("no marks or injuries observed") is not evidence of the
                # risk: the next nearest is
        return out

    def _support(self, ctx, rubric: Rubric, ci: int, cs: int, ce: int, ss: int, se: int, sem: float,
                 stmt: int) -> UnitHit | None:
        """A clause just under the threshold, kept as supporting evidence when no context cue stops it.

        Stricter than a clause that raises the rubric: any cue of a
        category the rubric is not raised under, anywhere in the clause,
        stops it ("he says Lamar has never ..."), whatever its scope. A
        person named in the clause is the exception: whether the clause is
        about that person is what the other-person rule itself decides (a
        child's account that "his dad got him with the cord" is about the
        child), so that cue stops it only where ``assess`` applies it.
        """
        if any(cs <= c.start < ce and c.rule.category in rubric.not_when and c.rule.category != "other_person"
               for c in ctx.cues):
            return None
        a = assess(ctx, self.rules, cs, ce, ss, se, min_cover=CLAUSE_MIN_COVER)
        if a.first(rubric.not_when) is not None:
            return None
        return UnitHit(rubric.id, ci, sem, "meaning", self.statements[stmt], None, None, None, None, support=True)

    def _decide(self, ctx, rubric: Rubric, ci: int, cs: int, ce: int, ss: int, se: int, sem: float,
                semantic: bool, stmt: int, phr: list[tuple[int, int, str]]) -> UnitHit | None:
        not_when = rubric.not_when
        suppressed: tuple[str, object, str] | None = None
        for start, end, text in phr:
            a = assess(ctx, self.rules, start, end, ss, se)
            stop = a.first(not_when)
            if stop is None:
                return UnitHit(rubric.id, ci, max(PHRASE_SCORE, sem), "phrase", text, None, None, None, None)
            if suppressed is None:
                suppressed = (stop[0], stop[1], text)
        if semantic:
            a = assess(ctx, self.rules, cs, ce, ss, se, min_cover=CLAUSE_MIN_COVER,
                       ignore_literals=self.statement_ignore[stmt])
            stop = a.first(not_when)
            if stop is None and suppressed is None:
                return UnitHit(rubric.id, ci, sem, "meaning", self.statements[stmt], None, None, None, None)
            if suppressed is None and stop is not None:
                suppressed = (stop[0], stop[1], self.statements[stmt])
        if suppressed is None:
            return None
        cat, cue, evidence = suppressed
        return UnitHit(rubric.id, ci, max(sem, PHRASE_SCORE) if phr else sem, "phrase" if phr else "meaning",
                       evidence, cat, cue.text, cue.start_char, cue.end_char)


def suppressed_by_context(nlp: Language, rules: ContextRules, rubric: Rubric, sentence: str) -> bool:
    """Would the context stage suppress this sentence as a whole for this rubric?"""
    doc = nlp.make_doc(sentence)
    ctx = find_cues(doc, rules)
    a = assess(ctx, rules, 0, len(doc), 0, len(doc), min_cover=CLAUSE_MIN_COVER)
    return a.first(rubric.not_when) is not None


def _cue_literals_of(nlp: Language, rules: ContextRules, statement: str) -> frozenset[str]:
    """Cue literals that are part of a look_for statement's own meaning.

    "The client has not eaten in two days" contains "not"; a clause matched by
    meaning to it is not suppressed by its own "not", but "denies" or "never"
    in the clause still suppress it.
    """
    doc = nlp.make_doc(statement)
    ctx = find_cues(doc, rules)
    return frozenset(c.rule.literal.lower() for c in ctx.cues)


def _may_raise_on_meaning(doc: Doc, cs: int, ce: int) -> bool:
    """Can the clause raise a rubric on meaning alone?

    Not with fewer than MIN_MEANING_WORDS words, and not when it is a record field ("Caregiver: Uncle
    Ray, the client's brother.", "Topic today: safe sleep and tantrums"): a label from RECORD_FIELDS and
    a colon, naming who or what the note is about rather than saying what happened. Literal phrases
    in either still count.
    """
    if sum(1 for t in doc[cs:ce] if t.is_alpha) < MIN_MEANING_WORDS:
        return False
    head = [t.lower_ for t in doc[cs:min(ce, cs + 4)] if not t.is_space]
    for n in (1, 2, 3):
        if len(head) > n and head[n] == ":" and " ".join(head[:n]) in RECORD_FIELDS:
            return False
    return True


# Labels of record fields: who and what a note is about, not what happened. Labels that often head
# an account ("Client:", "Child:", "Mother:", "Household:") are not here: "Child: found alone in the
# car" is a finding.
RECORD_FIELDS = frozenset({
    "caregiver", "caregivers", "guardian", "participants", "present", "attendees", "attending", "location",
    "address", "dob", "age", "date", "time", "worker", "staff", "program", "provider", "placement", "school",
    "topic", "topics", "topic today", "session topic", "group topic", "contact", "collateral", "collaterals",
    "household members", "referral source", "source",
})


def _token_to_clause(n_tokens: int, clause_tokens: list[tuple[int, int, int, int]]) -> list[int]:
    out = [-1] * n_tokens
    for ci, (cs, ce, _ss, _se) in enumerate(clause_tokens):
        for t in range(cs, ce):
            out[t] = ci
    return out
