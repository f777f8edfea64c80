"""Assertion context: is a mention negated, historical, hypothetical, about
another person, resolved, or a negative screening?

A ConText-style algorithm (Harkema et al. 2009) over spaCy tokens. The cue
rules are data (``data/context_rules.yaml``); this module only applies them.
A rule (``CueRule``, what to look for) is a different type from a match
(``Cue``, what was found in one document).

Scope: a cue modifies the tokens after it (forward), before it (backward) or
both, within its sentence, up to a terminator ("but", "however", "currently",
a reporting verb ...) or ``max_scope`` tokens. A "contrast" cue modifies the
clause before the "but" that opens its own clause ("unreachable Monday, but
he returned the call Tuesday"), and nothing when no "but" opens it. A cue never modifies a target
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

# Words that open a new clause with its own subject after "and" or a comma.
NEW_SUBJECT = frozenset({"she", "he", "they", "that", "cl", "client", "pt", "participant", "writer", "cm"})
# So does a quotation opened there: 'and "it scared me"' is a new clause, in the speaker's words.
OPENING_QUOTES = frozenset({'"', "\u201c"})
# Where a clause's subject can start: after these, or after a reporting verb
# and its listener ("cl told writer her sister ...").
SUBJECT_BOUNDARY = frozenset({"that", ",", "and", "when", "while", "writer", "cm", "staff", "worker", "me", "us"})
CATEGORIES = ("negated", "historical", "hypothetical", "other_person", "resolved", "screening_negative")
DIRECTIONS = ("forward", "backward", "bidirectional", "contrast")
# A contrast cue may start this many tokens after its "but" ("but she has since ...").
CONTRAST_GAP = 3
RULES_PATH = PIPELINE_DATA_DIR / "context_rules.yaml"
RULE_KEYS = frozenset({"literal", "category", "direction", "max_scope", "weak", "opens_sentence"})
# What may come just before a cue that opens a sentence or a list item.
SENTENCE_OPENERS = frozenset({".", "!", "?", ":", ";", "-", "*", "•", "·", "–", "—", ")"})
# A past time this many tokens after "since" ("since back in 2024") starts something ongoing.
SINCE_GAP = 3
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
MONTHS += [m + "." for m in MONTHS if len(m) <= 4]
# Durations within ConText's two weeks: a history this long is recent (weeks: one or two only).
RECENT_UNITS = frozenset({"hour", "hr", "day", "night", "dy"})
NUMBER_WORDS = frozenset({"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                          "twelve", "thirteen", "fourteen", "several", "few"})
# Words that open a relative clause set off by commas, and the longest such aside (tokens).
RELATIVE_OPENERS = frozenset({"who", "whom", "whose", "which"})
ASIDE_MAX = 5


@dataclass(frozen=True)
class CueRule:
    literal: str
    category: str
    direction: str
    max_scope: int
    weak: bool = False
    # True: a cue only where it opens a sentence or a list item, as an
    # instruction does ("Call for any chest pain", "Call the crisis line for
    # thoughts of ..."), not mid-sentence ("she had to call for an ambulance").
    opens_sentence: bool = False


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
        self._rules_of_key: dict[int, list[CueRule]] = {}
        for i, r in enumerate(data["rules"]):
            unknown = sorted(set(r) - RULE_KEYS)
            if unknown:
                raise ValueError(f"{path}: rule {i} ({r.get('literal')!r}) has unknown key(s) {unknown}; "
                                 f"a rule may have {sorted(RULE_KEYS)}")
            cats = r["category"] if isinstance(r["category"], list) else [r["category"]]
            direction = r.get("direction", "forward")
            if direction not in DIRECTIONS:
                raise ValueError(f"{path}: rule {i} has unknown direction {direction!r}")
            rules_here = []
            for cat in cats:
                if cat not in CATEGORIES + ("pseudo",):
                    raise ValueError(f"{path}: rule {i} has unknown category {cat!r}")
                rules_here.append(CueRule(str(r["literal"]), cat, direction, int(r.get("max_scope", default_scope)),
                                          bool(r.get("weak", False)), bool(r.get("opens_sentence", False))))
            self.rules += rules_here
            self.matcher.add(f"cue{i}", [nlp.make_doc(str(r["literal"]))])
            self._rules_of_key[nlp.vocab.strings[f"cue{i}"]] = rules_here
        self.terminators = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.terminators.add("term", [nlp.make_doc(str(t)) for t in data["terminators"]])
        self.category_terminators: dict[str, PhraseMatcher] = {}
        for cat, words in (data.get("category_terminators") or {}).items():
            if cat not in CATEGORIES:
                raise ValueError(f"{path}: category_terminators has unknown category {cat!r}")
            m = PhraseMatcher(nlp.vocab, attr="LOWER")
            m.add(cat, [nlp.make_doc(str(t)) for t in words])
            self.category_terminators[cat] = m
        self.contrast_openers = {str(w).lower() for w in data.get("contrast_openers", [])}
        self.time_terminators = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.time_terminators.add("time", [nlp.make_doc(str(t)) for t in data.get("time_terminators", [])])
        scr = data["screening"]
        self.instruments = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.instruments.add("instrument", [nlp.make_doc(str(t)) for t in scr["instruments"]])
        self.negative_results = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.negative_results.add("negative", [nlp.make_doc(str(t)) for t in scr["negative_results"]])
        op = data["other_person"]
        self.reporting_verbs = {str(v).lower() for v in op["reporting_verbs"]}
        self.client_refs = {str(v).lower() for v in op["client_refs"]}
        self.person_nouns = {str(v).lower() for v in op.get("person_nouns", [])}
        self.subject_lead = {str(v).lower() for v in op.get("subject_lead", [])}
        self.female_persons = {str(v).lower() for v in op.get("female_persons", [])}
        self.client_belongings = {str(v).lower() for v in op.get("client_belongings", [])}
        self.year = Matcher(nlp.vocab)
        past_year = {"SHAPE": "dddd", "TEXT": {"REGEX": r"^(19[5-9]\d|20[01]\d|202[0-5])$"}}
        self.year.add(
            "year",
            [[{"LOWER": {"IN": ["in", "during", "back", "around", "until", "til", "till", "of"]}}, past_year],
             # "her 2016 conviction", "a 2019 eviction": an event dated in a past year
             [{"LOWER": {"IN": ["her", "his", "their", "my", "a", "an", "the"]}}, past_year],
             [{"LOWER": "back"}, {"LOWER": "in"}, past_year],  # longer than the "back in" cue, so it wins
             # "her last hospitalization was 2021": a past year as the date of the event
             [{"LOWER": {"IN": ["was", "were"]}}, past_year],
             # "removed in October 2024", "evicted Oct. 2023": a month of a past year
             [{"LOWER": {"IN": MONTHS}}, {"TEXT": ".", "OP": "?"}, past_year]],
        )


@dataclass
class DocContext:
    """All cues and scope boundaries found in one Doc.

    Cue matching runs on a copy of the Doc without whitespace tokens, so that
    "negative  for" (two spaces, a line break) still matches "negative for".
    All token indices here are indices into that copy (``doc``); ``clean_of``
    maps an index of the original Doc to it.
    """

    doc: Doc
    cues: list[Cue]
    terminator_tokens: set[int]     # every scope stops here (time terminators included)
    time_terminators: set[int]      # "now", "currently": these do not stop another person's scope
    category_stops: dict[str, set[int]]  # terminators that end one category's scope only
    clean_of: list[int]
    header_cues: set[int]
    contrast_openers: frozenset[str]
    source_text: str
    char_spans: list[tuple[int, int]]  # original (start_char, end_char) of each token of the copy
    # A cue inside a parenthesis or a comma-closed relative clause (", who died in 2023,") scopes
    # over that aside only: cue start -> token range [lo, hi) of the aside.
    asides: dict[int, tuple[int, int]] = field(default_factory=dict)

    def chars(self, start: int, end: int) -> tuple[int, int]:
        return self.char_spans[start][0], self.char_spans[end - 1][1]

    def to_clean(self, start: int, end: int) -> tuple[int, int]:
        """Map an original token range [start, end) to the copy's indices."""
        n = len(self.clean_of)
        a = self.clean_of[start] if start < n else len(self.doc)
        b = self.clean_of[end] if end < n else len(self.doc)
        return a, max(a, b)


def _without_space_tokens(doc: Doc) -> tuple[Doc, list[int], list[int]]:
    keep = [t for t in doc if not t.is_space]
    clean = Doc(doc.vocab, words=[t.text for t in keep], spaces=[True] * len(keep))
    orig_idx = [t.i for t in keep]
    clean_of = [0] * len(doc)
    j = 0
    for i in range(len(doc)):
        while j < len(orig_idx) and orig_idx[j] < i:
            j += 1
        clean_of[i] = j
    return clean, orig_idx, clean_of


def find_cues(original: Doc, rules: ContextRules) -> DocContext:
    doc, orig_idx, clean_of = _without_space_tokens(original)
    spans = [(original[i].idx, original[i].idx + len(original[i].text)) for i in orig_idx]
    raw: list[tuple[int, int, CueRule]] = []
    for key, start, end in rules.matcher(doc):
        for rule in rules._rules_of_key[key]:
            if rule.opens_sentence and not _opens_sentence(original, orig_idx, doc, start):
                continue
            raw.append((start, end, rule))
    for _key, start, end in rules.year(doc):
        raw.append((start, end, CueRule("in <year>", "historical", "bidirectional", 12)))
    # "has been sleeping in his car since last fall": a past time after "since" dates the start of
    # something still going on, so it is not a historical cue ("clean since", a cue of its own, is).
    raw = [(s, e, r) for s, e, r in raw
           if not (r.category == "historical" and "since" not in r.literal.lower().split()
                   and any(doc[k].lower_ == "since" for k in range(max(0, s - SINCE_GAP), s)))]
    # "a two-day history of fever", "a 1-week hx of not eating": a history measured in hours, days or
    # a week or two began within ConText's two weeks, so it is recent, not historical.
    raw = [(s, e, r) for s, e, r in raw if not (r.category == "historical" and _recent_duration_before(doc, s))]
    # Longest match wins; pseudo cues suppress every cue they overlap.
    raw.sort(key=lambda t: (-(t[1] - t[0]), t[0]))
    taken: dict[int, tuple[int, int]] = {}
    cues: list[Cue] = []
    for start, end, rule in raw:
        owners = {taken[t] for t in range(start, end) if t in taken}
        if owners and owners != {(start, end)}:
            continue  # inside a longer cue (a second category of the same cue is kept)
        for t in range(start, end):
            taken[t] = (start, end)
        if rule.category == "pseudo":
            continue
        a, b = spans[start][0], spans[end - 1][1]
        cues.append(Cue(start, end, rule, original.text[a:b], a, b))
    cues.sort(key=lambda c: (c.start, c.end))
    terms: set[int] = set()
    for _key, start, end in rules.terminators(doc):
        terms.update(range(start, end))
    times: set[int] = set()
    for _key, start, end in rules.time_terminators(doc):
        times.update(range(start, end))
    times -= terms
    terms |= times
    headers: set[int] = set()
    for i, tok in enumerate(doc):
        if tok.text == ";" or (tok.text == ":" and any(t.text.isupper() and len(t.text) > 1 for t in doc[max(0, i - 3):i])):
            terms.add(i)
        # "1) eviction notice 2) arrears": each numbered item is a finding of its own
        if tok.text == ")" and i > 0 and doc[i - 1].text.isdigit() and len(doc[i - 1].text) <= 2 \
                and (i < 2 or doc[i - 2].text != "("):
            terms.update((i - 1, i))
    for cue in cues:  # "History: ..." a cue that heads a section scopes over all of it
        if cue.end < len(doc) and doc[cue.end].text in (":", "-") and cue.rule.direction not in ("backward", "contrast"):
            headers.add(cue.start)
            terms.discard(cue.end)
    category_stops = {cat: {t for _k, a, b in m(doc) for t in range(a, b)} for cat, m in rules.category_terminators.items()}
    asides = {}
    for cue in cues:
        aside = _aside_of(doc, cue.start, cue.end)
        if aside is not None:
            asides[cue.start] = aside
    return DocContext(doc, cues, terms, times, category_stops, clean_of, headers, frozenset(rules.contrast_openers),
                      original.text, spans, asides)


def _recent_duration_before(doc: Doc, start: int) -> bool:
    """Is the cue at ``start`` a history measured as recent ("two-day", "48-hour", "1-week history")?"""
    k = start - 1
    if k < 0:
        return False
    unit = doc[k].lower_.rstrip("s")
    if unit not in RECENT_UNITS and unit not in ("week", "wk"):
        return False
    k -= 1
    if k >= 0 and doc[k].text == "-":
        k -= 1
    if k < 0:
        return False
    amount = doc[k].lower_
    if unit in RECENT_UNITS:
        if amount.isdigit():
            return int(amount) <= (14 * 24 if unit in ("hour", "hr") else 14)
        return amount in NUMBER_WORDS or amount in ("a", "couple")
    return amount in ("1", "2", "one", "two", "a", "couple")


def _opens_sentence(original: Doc, orig_idx: list[int], doc: Doc, start: int) -> bool:
    """Does token ``start`` of the space-free copy open a sentence, a line or a list item?"""
    if start == 0 or doc[start - 1].text in SENTENCE_OPENERS:
        return True
    between = original.text[original[orig_idx[start - 1]].idx:original[orig_idx[start]].idx]
    return "\n" in between


def _aside_of(doc: Doc, start: int, end: int) -> tuple[int, int] | None:
    """The short relative clause set off by commas that holds tokens [start, end), if any.

    ", who died in 2023," ", which was in 2019,": at most ASIDE_MAX tokens from
    the relative word to the closing comma. A longer one, or one that runs to
    the end of its sentence, is left to the usual scope (its commas are as
    likely a list's: ", which showed no sign of A, B, or C").
    """
    for k in range(start - 1, max(-1, start - 1 - ASIDE_MAX), -1):
        w = doc[k].text
        if w in (".", "!", "?", ";", ",", "(", ")"):
            return None
        if doc[k].lower_ in RELATIVE_OPENERS and k > 0 and doc[k - 1].text == ",":
            for j in range(end, min(len(doc), k + ASIDE_MAX + 1)):
                if doc[j].text in (".", "!", "?", ";", "(", ")"):
                    return None
                if doc[j].text == ",":
                    return k, j
            return None
    return None


def _scope(ctx: DocContext, cue: Cue, lo: int, hi: int) -> tuple[int, int, int, int]:
    """Token ranges [a, b) before and [c, d) after the cue, within [lo, hi) (and within its aside, if any)."""
    if cue.start in ctx.asides:
        a_lo, a_hi = ctx.asides[cue.start]
        lo, hi = max(lo, a_lo), min(hi, a_hi)
    stops = ctx.terminator_tokens | ctx.category_stops.get(cue.rule.category, set())
    if cue.start in ctx.header_cues:
        j = cue.end + 1
        while j < hi and not (j in ctx.terminator_tokens and ctx.doc[j].text in (":", ";")):
            j += 1
        # a two-way cue before a colon still reaches back: "Allegation of exploitation unsubstantiated: ..."
        return _backward_start(ctx, cue, lo, stops), cue.start, cue.end, j
    if cue.rule.category == "other_person":
        stops = stops - ctx.time_terminators
    elif cue.rule.category == "negated" and not cue.rule.weak:
        # "did not miss any visits this week despite ...": a time word inside the
        # denied statement (right after a word, not opening a clause) ends nothing.
        stops = stops - {t for t in ctx.time_terminators if t > 0 and ctx.doc[t - 1].is_alpha}
    if cue.rule.direction == "contrast":
        return _contrast_scope(ctx, cue, lo, stops)
    before_a = _backward_start(ctx, cue, lo, stops)
    after_d = cue.end
    if cue.rule.direction in ("forward", "bidirectional"):
        j = cue.end
        while j < hi and j not in stops and j - cue.end < cue.rule.max_scope:
            j += 1
        after_d = j
    return before_a, cue.start, cue.end, after_d


def _backward_start(ctx: DocContext, cue: Cue, lo: int, stops: set[int]) -> int:
    """Where the scope before a backward or two-way cue starts (the cue's own start for a forward one)."""
    if cue.rule.direction not in ("backward", "bidirectional"):
        return cue.start
    j = cue.start - 1
    while j >= lo and j not in stops and cue.start - j <= cue.rule.max_scope:
        j -= 1
    return j + 1


def _contrast_scope(ctx: DocContext, cue: Cue, lo: int, stops: set[int]) -> tuple[int, int, int, int]:
    """The clause before the "but" that opens the cue's clause; empty when none does."""
    empty = (cue.start, cue.start, cue.end, cue.end)
    k = cue.start - 1
    while k >= lo and cue.start - k <= CONTRAST_GAP + 1:
        if ctx.doc[k].lower_ in ctx.contrast_openers:
            break
        if k in stops:
            return empty
        k -= 1
    else:
        return empty
    j = k - 1
    while j >= lo and j not in stops and k - j <= cue.rule.max_scope:
        j -= 1
    return j + 1, k, cue.end, cue.end


def _other_person_applies(ctx: DocContext, rules: ContextRules, cue: Cue, target_start: int, lo: int, hi: int,
                          clause_mode: bool = False, target_end: int = 0) -> bool:
    """Is the other person the one the target is about?

    The person must come before the target (for a whole clause as target: be
    the clause's subject, see ``_is_subject``), must not be reporting about
    the client ("her sister said ..."), and the rest of the clause must not
    bring the client back in ("her nephew takes her check").
    """
    doc = ctx.doc
    if cue.start >= target_start and not (clause_mode and _is_subject(ctx, rules, cue, target_start)):
        return False
    nxt = cue.end
    if nxt < len(doc) and doc[nxt].lower_ in rules.reporting_verbs:
        return False  # reported speech: "her sister said ..."
    if nxt < len(doc) and doc[nxt].lower_ in ("'s", "’s"):
        owned = doc[nxt + 1].lower_ if nxt + 1 < len(doc) else ""
        if owned not in rules.person_nouns and not _is_subject(ctx, rules, cue, lo):
            return False  # a modifier ("after his uncle's funeral he ..."), unless it names a person
            # ("his coworker's wife") or opens the subject ("her brother's car was repossessed")
        nxt += 2
    # a clause that calls the client "he" before the other person ("He said his neighbor ...") cannot mean the
    # client by a later "her": "... had her power shut off" is the neighbour's
    before = {doc[j].lower_ for j in range(lo, cue.start)}
    client_is_he = bool(before & {"he", "his", "him"}) and not before & {"she", "her", "hers"}
    for k in range(nxt, hi):
        w = doc[k].lower_
        if k in ctx.terminator_tokens and k not in ctx.time_terminators:
            break  # "; cl asked for ...": what follows is outside the other person's clause
        if w in ("and", ",") and k + 1 < hi and (doc[k + 1].lower_ in NEW_SUBJECT or doc[k + 1].is_title
                                                 or doc[k + 1].text in OPENING_QUOTES):
            if (clause_mode and w == "and" and doc[k + 1].lower_ == "that" and k + 3 < target_end
                    and any(doc[j].lower_ in rules.reporting_verbs for j in range(target_start, cue.start))):
                # "He said his ex's new boyfriend ... and that 'next time I see him, he's done'": the
                # client reports a second thing in the same clause; the other person is the subject of
                # only the first, so the clause is not about them alone.
                return False
            break  # "... and cl is worried", "..., and Terrence gives him": a new clause with its own subject
        if clause_mode and w in ("herself", "himself"):
            continue  # a reflexive refers back to the subject, here the other person
        if w in rules.client_refs:
            return False
        if w == "her" and k > target_start:
            following = doc[k + 1].lower_ if k + 1 < len(doc) else ""
            if client_is_he:
                continue
            if doc[cue.end - 1].lower_ in rules.female_persons and following not in rules.client_belongings:
                continue  # "her sister lost her apartment": her own
            if following not in rules.person_nouns:
                return False  # "her nephew takes her check": the client is back in the clause
    return True


def _is_subject(ctx: DocContext, rules: ContextRules, cue: Cue, clause_start: int) -> bool:
    """Does the cue open its clause's subject ("Her sister in the next town was evicted")?

    Counting back from the cue to the clause start, or to a reporting verb or
    "that" ("cl mentioned her brother relapsed"), only a few determiners,
    possessives or names may come first.
    """
    doc = ctx.doc
    lead = 0
    for k in range(cue.start - 1, clause_start - 1, -1):
        w = doc[k].lower_
        if w in rules.reporting_verbs or w in SUBJECT_BOUNDARY:
            break
        if w not in rules.subject_lead and not (doc[k].is_title and not doc[k].is_stop):
            return False
        lead += 1
        if lead > 3:
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
    ignore_literals: frozenset[str] = frozenset(),
) -> Assertion:
    """Context of the token range [target_start, target_end) in its sentence.

    With ``min_cover`` > 0 (a whole clause as target) a cue must reach at least
    that fraction of the target's tokens; otherwise one token is enough.
    ``ignore_literals`` skips cues whose literal is part of the meaning being
    matched ("has not eaten").
    """
    result = Assertion()
    target_start, target_end = ctx.to_clean(target_start, target_end)
    sent_start, sent_end = ctx.to_clean(sent_start, sent_end)
    for cue in ctx.cues:
        if cue.end <= sent_start or cue.start >= sent_end:
            continue
        cat = cue.rule.category
        if cat in result.cues or cue.rule.literal.lower() in ignore_literals:
            continue
        if min_cover and cue.rule.weak:
            continue
        if cue.start < target_end and cue.end > target_start and min_cover == 0.0 and cue.start >= target_start:
            continue  # a cue never modifies a target it overlaps from inside ("no food" is the risk);
            # one that starts before it does ("no shut-off" before "shut-off notice")
        a, b, c, d = _scope(ctx, cue, sent_start, sent_end)
        covered = set(range(a, b)) | set(range(c, d))
        covered -= set(range(cue.start, cue.end))
        hit = len(covered & set(range(target_start, target_end)))
        if hit == 0:
            continue
        if min_cover and _word_cover(ctx, cue, covered, target_start, target_end, rules.reporting_verbs) < min_cover:
            continue
        if cat == "other_person" and not _other_person_applies(ctx, rules, cue, target_start, sent_start, sent_end,
                                                               clause_mode=min_cover > 0, target_end=target_end):
            continue
        result.cues[cat] = cue
    scr = screening_in(ctx, rules, sent_start, sent_end, target_start, target_end)
    if scr is not None:
        result.cues["screening_negative"] = scr
    return result


def _word_cover(ctx: DocContext, cue: Cue, covered: set[int], target_start: int, target_end: int,
                reporting_verbs: frozenset[str] | set[str] = frozenset()) -> float:
    """Share of the target's words, other than the cue's own, that the cue's scope reaches.

    Punctuation, quote marks and the cue itself do not count: in "He has no
    history of suicide attempts." the cue reaches 2 of the 4 other words.
    For a negation, function words ("it", "was", "and", "to") do not count
    either: what is denied is in the content words ("Says it was an accident
    and denies wanting to hurt herself": 3 of 5). Nor does the reporting frame
    that opens the clause and leads straight to the cue ("Client says", "Def
    states"): "Client says no thoughts of suicide" denies all it reports,
    like "No thoughts of suicide".
    """
    content_only = cue.rule.category == "negated"
    frame_end = target_start
    for k in range(min(cue.start, target_end) - 1, target_start - 1, -1):
        if ctx.doc[k].lower_ in reporting_verbs:
            if all(not any(ch.isalnum() for ch in ctx.doc[j].text) or ctx.doc[j].is_stop for j in range(k + 1, cue.start)):
                frame_end = k + 1  # only the frame's own words lie before the cue ("Client says that no ...")
            break
    words = [k for k in range(frame_end, target_end)
             if not (cue.start <= k < cue.end) and any(ch.isalnum() for ch in ctx.doc[k].text)
             and not (content_only and ctx.doc[k].is_stop)]
    if not words:
        return 1.0
    return sum(1 for k in words if k in covered) / len(words)


def screening_in(ctx: DocContext, rules: ContextRules, sent_start: int, sent_end: int,
                 target_start: int, target_end: int) -> Cue | None:
    """A negative screening result in the target's stretch of the sentence."""
    doc = ctx.doc
    lo, hi = sent_start, sent_end
    # a time word right after the instrument dates the screen, it does not part it from its result:
    # "PHQ-9 today totals 4, with 0 on the self-harm item" (but "PHQ-9 0 at intake, today she wants to die")
    dated: set[int] = set()
    for _k, _s, e in rules.instruments(doc[sent_start:sent_end]):
        while e in ctx.time_terminators:  # every token of the time phrase ("this morning")
            dated.add(e)
            e += 1
    for t in ctx.terminator_tokens - dated:
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
    _k, s, e = inst[0]  # spaCy matchers on a Span answer in Doc token indices
    sp = doc[s:e]
    a, b = ctx.chars(sp.start, sp.end)
    return Cue(sp.start, sp.end, CueRule(sp.text, "screening_negative", "bidirectional", 0), ctx.source_text[a:b], a, b)
