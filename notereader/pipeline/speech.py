"""Quoted first-person speech, read as the worker's report of it.

Case notes quote clients in their own words: 'he swung his cane at me
Thursday and caught my cheek', "I've got $6 and a box of oatmeal". The rubric
statements, like the rest of a case note, are written in the third person
("client reports her partner hit her"), and the sentence model reads the two
voices far apart: that quotation scored 0.04 as domestic violence, and 0.79
as "Client said he swung his cane at her Thursday and caught her cheek".

So a clause whose quoted words speak in the first person gets two readings
that report them: the quoted first-person pronouns turned into the third
("I'm" -> "she is", "my" -> "her"), and the same after "Client said". A risk
raised in the note cites the clause when the nearer reading comes within the
citing margin of its threshold (``matcher.RubricIndex._heard_scores``); the
readings raise nothing themselves. Like the roles beside names
(``roles.py``), they change only what the models read; context cues,
phrases, quotes and citations read the note's own words.

Only words between quote marks that open and close on the same line are
rewritten: a case worker's own "I called the landlord" is not the client's
speech. The pronoun is the one the note uses most for a person ("she" or
"he"), else "she"; who the speaker is does not change what the words describe
happening to them, and the context stage still decides, from the note's own
words, whether it is the client's experience or someone else's.
"""

from __future__ import annotations

import re

from notereader.pipeline.roles import pronoun_possessive

REPORT_PREFIX = "Client said "
_DOUBLE_OPEN = {'"': '"', "\u201c": "\u201d"}
_SINGLE = ("'", "\u2018", "\u2019")
_CLOSE_FOLLOW = set(" \t.,;:!?)]-\u2014\u2013\n\"\u201d")
_OPEN_PRECEDE = set(" \t([:,-\u2014\u2013\"\u201c")


def quote_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the words inside each quotation that opens and closes on one line (marks excluded)."""
    spans: list[tuple[int, int]] = []
    line_start = 0
    for line in text.split("\n"):
        spans += [(line_start + s, line_start + e) for s, e in _line_quotes(line)]
        line_start += len(line) + 1
    return spans


def _line_quotes(line: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch in _DOUBLE_OPEN:
            close = line.find(_DOUBLE_OPEN[ch], i + 1)
            if ch == '"' and close < 0:
                close = line.find("\u201d", i + 1)
            if close < 0:
                return out
            if close > i + 1:
                out.append((i + 1, close))
            i = close + 1
            continue
        if ch in _SINGLE and (i == 0 or line[i - 1] in _OPEN_PRECEDE) and i + 1 < n and not line[i + 1].isspace():
            j = i + 1
            close = -1
            while j < n:
                if line[j] in _SINGLE and not line[j - 1].isspace() and (j + 1 == n or line[j + 1] in _CLOSE_FOLLOW):
                    close = j
                    break
                j += 1
            if close > i + 1:
                out.append((i + 1, close))
                i = close + 1
                continue
        i += 1
    return out


_FIRST_PERSON = re.compile(
    r"\b(?:I am|I have|I(?:['\u2019](?:m|ve|ll|d))?|Im|Ive|me|my|mine|myself)\b", re.I)


def _third(word: str, she: bool) -> str:
    w = word.lower().replace("\u2019", "'")
    p, obj, poss, refl, pp = ("she", "her", "her", "herself", "hers") if she else ("he", "him", "his", "himself", "his")
    if w in ("i'm", "im", "i am"):
        return f"{p} is"
    if w in ("i've", "ive", "i have"):
        return f"{p} has"
    if w == "i'll":
        return f"{p} will"
    if w == "i'd":
        return f"{p} would"
    if w == "i":
        return p
    return {"me": obj, "my": poss, "mine": pp, "myself": refl}[w]


def has_first_person(words: str) -> bool:
    return _FIRST_PERSON.search(words) is not None


def reported(clause: str, start: int, spans: list[tuple[int, int]], she: bool) -> tuple[str, ...]:
    """The clause (at ``start`` in the note) read as a report of its quoted first-person words, or ().

    Two readings: the words with their pronouns in the third person, and the
    same after REPORT_PREFIX. Neither alone reads every quotation well (the
    rubric statements name "client" in some, a pronoun in others), so a
    clause is as near a rubric as the nearer of the two.
    """
    end = start + len(clause)
    parts: list[str] = []
    pos = 0
    for qs, qe in spans:
        if qe <= start or qs >= end:
            continue
        a, b = max(qs, start) - start, min(qe, end) - start
        inner = clause[a:b]
        if not has_first_person(inner):
            continue
        parts.append(clause[pos:a])
        parts.append(_FIRST_PERSON.sub(lambda m: _third(m.group(0), she), inner))
        pos = b
    if not parts:
        return ()
    parts.append(clause[pos:])
    words = "".join(parts)
    return (words, REPORT_PREFIX + words)


def note_pronoun_is_she(text: str) -> bool:
    """True unless the note says he/him/his more often than she/her/hers."""
    return pronoun_possessive(text) != "his"
