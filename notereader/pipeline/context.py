"""Assertion context: is a mention negated, historical, hypothetical, about
another person, resolved, or a negative screening?

A ConText-style algorithm (Harkema et al. 2009) over spaCy tokens. The cue
rules are data (``data/context_rules.yaml``); this module only applies them.
A rule (``CueRule``, what to look for) is a different type from a match
(``Cue``, what was found in one document).

Scope: a cue modifies the tokens after it (forward), before it (backward) or
both, within its sentence, up to a terminator ("but", "however", "currently",
a reporting verb ...) or ``max_scope`` tokens. A cue never modifies a target
that it overlaps. Pseudo cues ("not only", "not enough") contain a cue word
but cancel it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from notereader.paths import PIPELINE_DATA_DIR

CATEGORIES = ("negated", "historical", "hypothetical", "other_person", "resolved", "screening_negative")
DIRECTIONS = ("forward", "backward", "bidirectional")
RULES_PATH = PIPELINE_DATA_DIR / "context_rules.yaml"


@dataclass(frozen=True)
class CueRule:
    literal: str
    category: str
    direction: str
    max_scope: int


@dataclass(frozen=True)
class Cue:
    """A cue found in a document: token range [start, end) and its rule."""

    start: int
    end: int
    rule: CueRule
    text: str
    start_char: int
    end_char: int


@dataclass
class Assertion:
    """The context of one target: each category that applies, with its cue."""

    cues: dict[str, Cue] = field(default_factory=dict)

    def has(self, category: str) -> bool:
        return category in self.cues

    def first(self, categories: Iterable[str]) -> tuple[str, Cue] | None:
        for cat in categories:
            if cat in self.cues:
                return cat, self.cues[cat]
        return None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {cat: cat in self.cues for cat in CATEGORIES}
        out["cues"] = [
            {"category": cat, "text": cue.text, "start": cue.start_char, "end": cue.end_char}
            for cat, cue in sorted(self.cues.items(), key=lambda kv: (kv[1].start_char, kv[0]))
        ]
        return out


class ContextRules:
    """The cue rules, compiled into spaCy matchers for one vocabulary."""

    def __init__(self, nlp: Language, path: Path = RULES_PATH) -> None:
        raw = path.read_bytes()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        data = yaml.safe_load(raw)
        default_scope = int(data.get("default_max_scope", 12))
        self.rules: list[CueRule] = []
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for i, r in enumerate(data["rules"]):
            cat = r["category"]
            if cat not in CATEGORIES + ("pseudo",):
                raise ValueError(f"{path}: rule {i} has unknown category {cat!r}")
            direction = r.get("direction", "forward")
            if direction not in DIRECTIONS:
                raise ValueError(f"{path}: rule {i} has unknown direction {direction!r}")
            rule = CueRule(str(r["literal"]), cat, direction, int(r.get("max_scope", default_scope)))
            self.rules.append(rule)
            self.matcher.add(f"cue{i}", [nlp.make_doc(rule.literal)])
        self.terminators = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.terminators.add("term", [nlp.make_doc(str(t)) for t in data["terminators"]])
        scr = data["screening"]
        self.instruments = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.instruments.add("instrument", [nlp.make_doc(str(t)) for t in scr["instruments"]])
        self.negative_results = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.negative_results.add("negative", [nlp.make_doc(str(t)) for t in scr["negative_results"]])
        op = data["other_person"]
        self.reporting_verbs = {str(v).lower() for v in op["reporting_verbs"]}
        self.client_refs = {str(v).lower() for v in op["client_refs"]}
        self.her_followers = {str(v).lower() for v in op["her_object_followers"]}
        self.year = Matcher(nlp.vocab)
        self.year.add(
            "year",
            [[{"LOWER": {"IN": ["in", "during", "back", "around", "from", "until", "til", "till"]}},
              {"SHAPE": "dddd", "TEXT": {"REGEX": r"^(19[5-9]\d|20[0-2][0-5])$"}}]],
        )
        self._rule_by_key = {nlp.vocab.strings[f"cue{i}"]: rule for i, rule in enumerate(self.rules)}


@dataclass
class DocContext:
    """All cues and scope boundaries found in one Doc."""

    doc: Doc
    cues: list[Cue]
    terminator_tokens: set[int]
    screening_sentences: dict[int, Cue]  # sentence start token -> instrument cue


def find_cues(doc: Doc, rules: ContextRules) -> DocContext:
    raw: list[tuple[int, int, CueRule]] = []
    for key, start, end in rules.matcher(doc):
        raw.append((start, end, rules._rule_by_key[key]))
    for _key, start, end in rules.year(doc):
        raw.append((start, end, CueRule("in <year>", "historical", "bidirectional", 12)))
    # Longest match wins; pseudo cues suppress every cue they overlap.
    raw.sort(key=lambda t: (-(t[1] - t[0]), t[0]))
    taken: set[int] = set()
    cues: list[Cue] = []
    for start, end, rule in raw:
        span = set(range(start, end))
        if span & taken:
            continue
        taken |= span
        if rule.category == "pseudo":
            continue
        sp = doc[start:end]
        cues.append(Cue(start, end, rule, sp.text, sp.start_char, sp.end_char))
    cues.sort(key=lambda c: (c.start, c.end))
    terms: set[int] = set()
    for _key, start, end in rules.terminators(doc):
        terms.update(range(start, end))
    for i, tok in enumerate(doc):
        if tok.text in (";",):
            terms.add(i)
    return DocContext(doc, cues, terms, {})


def _scope(ctx: DocContext, cue: Cue, lo: int, hi: int) -> tuple[int, int, int, int]:
    """Token ranges [a, b) before and [c, d) after the cue, within [lo, hi)."""
    before_a = cue.start
    if cue.rule.direction in ("backward", "bidirectional"):
        j = cue.start - 1
        while j >= lo and j not in ctx.terminator_tokens and cue.start - j <= cue.rule.max_scope:
            j -= 1
        before_a = j + 1
    after_d = cue.end
    if cue.rule.direction in ("forward", "bidirectional"):
        j = cue.end
        while j < hi and j not in ctx.terminator_tokens and j - cue.end < cue.rule.max_scope:
            j += 1
        after_d = j
    return before_a, cue.start, cue.end, after_d


def _other_person_applies(ctx: DocContext, rules: ContextRules, cue: Cue, target_start: int, hi: int) -> bool:
    doc = ctx.doc
    if cue.start >= target_start:
        return False
    nxt = cue.end
    if nxt < len(doc) and doc[nxt].lower_ in rules.reporting_verbs:
        return False
    for k in range(cue.end, hi):
        w = doc[k].lower_
        if w in rules.client_refs:
            return False
        if w == "her":
            follower = doc[k + 1].lower_ if k + 1 < hi else "."
            if follower in rules.her_followers:
                return False
    return True


def assess(
    ctx: DocContext,
    rules: ContextRules,
    target_start: int,
    target_end: int,
    sent_start: int,
    sent_end: int,
    *,
    min_cover: float = 0.0,
    ignore: frozenset[str] = frozenset(),
) -> Assertion:
    """Context of the token range [target_start, target_end) in its sentence.

    With ``min_cover`` > 0 (a whole clause as target) a cue must reach at least
    that fraction of the target's tokens; otherwise one token is enough.
    """
    result = Assertion()
    n_target = max(1, target_end - target_start)
    for cue in ctx.cues:
        if cue.end <= sent_start or cue.start >= sent_end:
            continue
        cat = cue.rule.category
        if cat in ignore or cat in result.cues:
            continue
        if cue.start < target_end and cue.end > target_start and min_cover == 0.0:
            continue  # a cue never modifies a target it overlaps
        a, b, c, d = _scope(ctx, cue, sent_start, sent_end)
        covered = set(range(a, b)) | set(range(c, d))
        covered -= set(range(cue.start, cue.end))
        hit = len(covered & set(range(target_start, target_end)))
        if hit == 0:
            continue
        if min_cover and hit / n_target < min_cover:
            continue
        if cat == "other_person" and not _other_person_applies(ctx, rules, cue, target_start, sent_end):
            continue
        result.cues[cat] = cue
    if "screening_negative" not in ignore:
        scr = screening_in(ctx, rules, sent_start, sent_end, target_start, target_end)
        if scr is not None:
            result.cues["screening_negative"] = scr
    return result


def screening_in(ctx: DocContext, rules: ContextRules, sent_start: int, sent_end: int,
                 target_start: int, target_end: int) -> Cue | None:
    """A negative screening result in the target's stretch of the sentence."""
    doc = ctx.doc
    lo, hi = sent_start, sent_end
    for t in ctx.terminator_tokens:
        if sent_start <= t < target_start:
            lo = max(lo, t + 1)
        elif target_end <= t < sent_end:
            hi = min(hi, t)
    span = doc[lo:hi]
    inst = rules.instruments(span)
    if not inst:
        return None
    if not rules.negative_results(span):
        return None
    _k, s, e = inst[0]
    sp = span[s:e]
    return Cue(sp.start, sp.end, CueRule(sp.text, "screening_negative", "bidirectional", 0), sp.text,
               sp.start_char, sp.end_char)
