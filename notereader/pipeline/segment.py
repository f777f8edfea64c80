"""Paragraphs, section headers, sentences and clauses, as character spans.

Case notes are written fast: SOAP/DAP sections, "Plan:" and "Contact type:"
headers, timestamped entries, bullet lists, and dictated run-ons with no
punctuation at all. This module finds the structure with plain rules and
returns spans whose offsets index the text exactly as received (CRLF, tabs,
emoji and all), so that ``text[start:end]`` is always the quoted text.

It is pure (text in, spans out); ``components.py`` attaches the result to a
spaCy ``Doc``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A header at the start of a line (or after a sentence end): "S:", "DAP - D:",
# "Plan:", "Next steps:", "Contact type:", "Assessment -".
_HEADER_WORDS = (
    r"subjective|objective|assessment|plan|data|response|intervention|behaviou?r|"
    r"next steps?|contact type|contact|type of contact|location|purpose|follow[- ]?up|"
    r"goals?|summary|safety|risk|collateral|notes?|update|present|visit type|reason for visit|"
    r"action|outcome|observations?|client response|progress|interventions?|barriers|strengths"
)
HEADER_RE = re.compile(
    rf"(?:(?P<letter>[SOAPDIRB])|(?P<word>(?i:{_HEADER_WORDS})))[ \t]*(?::|-(?=[ \t]))[ \t]*"
)
TIMESTAMP_RE = re.compile(
    r"(?:\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?|\d{1,2}/\d{1,2}(?:/\d{2,4})?(?:,?[ \t]+\d{1,2}:\d{2}(?:[ \t]*[ap]\.?m\.?)?)?|\d{1,2}:\d{2}[ \t]*(?:[ap]\.?m\.?)?)"
    r"[ \t]*(?:[-–—:|]|\b)[ \t]*",
    re.IGNORECASE,
)
BULLET_RE = re.compile(r"(?:[-*•·‣◦▪●–]|\d{1,2}[.)]|[a-z][.)])[ \t]+")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")

# Words after which a period does not end a sentence.
ABBREVIATIONS = frozenset(
    """mr mrs ms dr st ave rd blvd apt appt appts approx vs etc e.g i.e eg ie jr sr no nos dept
    est min mins hr hrs wk wks mo mos yr yrs tel ph ext a.m p.m am pm u.s govt assn co inc corp
    mt ft pt pts cl cm hv fu f/u w/ re dob ssn lt sgt det ofc off jan feb mar apr jun jul aug sep
    sept oct nov dec mon tue tues wed thu thur thurs fri sat sun""".split()
)
_SENT_END_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
# Where a long unpunctuated sentence (dictated notes) can be cut into clauses.
_RUNON_CUES = re.compile(
    r"\s(?=(?:and then|then|but|so|also|because|although|though|however|worker|writer|cm|advocate|"
    r"she said|he said|they said|client said|cl said|she reports|he reports|she stated|he stated)\b)",
    re.IGNORECASE,
)
_CLAUSE_SPLIT_RE = re.compile(
    r"(?:;\s+|\s+[-–—]\s+|,?\s+(?=(?:but|however|although|though|whereas|yet|except that)\b)|,\s+(?=(?:and|while|which|who)\b))",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"\w+", re.UNICODE)
RUNON_WORDS = 30
MIN_CLAUSE_WORDS = 3


@dataclass(frozen=True)
class Span:
    start: int
    end: int

    def text(self, doc_text: str) -> str:
        return doc_text[self.start : self.end]


@dataclass(frozen=True)
class Paragraph(Span):
    index: int
    section: str | None


@dataclass(frozen=True)
class Sentence(Span):
    index: int
    paragraph: int
    section: str | None


@dataclass(frozen=True)
class Clause(Span):
    index: int
    sentence: int
    paragraph: int


@dataclass(frozen=True)
class Segmentation:
    paragraphs: tuple[Paragraph, ...]
    sentences: tuple[Sentence, ...]
    clauses: tuple[Clause, ...]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in ",;:"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:-–—"):
        end -= 1
    return start, end


def _words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line's content, without its line terminator."""
    out = []
    for m in _LINE_RE.finditer(text):
        if m.start() == m.end():
            break
        content = m.group(0).rstrip("\r\n")
        out.append((m.start(), m.start() + len(content)))
    return out


def _header_at(text: str, pos: int, end: int) -> tuple[str | None, int]:
    """A section header or timestamp starting at pos: (label, offset after it)."""
    m = HEADER_RE.match(text, pos, end)
    if m:
        label = m.group("letter") or m.group("word")
        # "P: ..." only counts as a header when followed by text, and a single
        # letter must not be the start of a word ("A client").
        return label.strip().upper() if len(label) == 1 else label.strip().lower(), m.end()
    m = TIMESTAMP_RE.match(text, pos, end)
    if m and m.end() > pos and m.group(0).strip():
        return "timestamp", m.end()
    return None, pos


def _is_abbreviation(text: str, dot: int) -> bool:
    j = dot
    while j > 0 and not text[j - 1].isspace():
        j -= 1
    word = text[j:dot].lower().lstrip("(\"'")
    if not word:
        return False
    if word in ABBREVIATIONS:
        return True
    if len(word) == 1 and word.isalpha():  # an initial: "Ms. R. said"
        return True
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))  # a.m, e.g


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split one paragraph line range into sentence spans."""
    cuts = [start]
    for m in _SENT_END_RE.finditer(text, start, end):
        dot = m.start()
        if text[dot] == "." and m.group(0).startswith(".") and len(m.group(0).rstrip("\"'”’)]")) == 1:
            if _is_abbreviation(text, dot):
                continue
            # decimals and list numbers ("3. Call") are not sentence ends
            if dot > start and text[dot - 1].isdigit() and _words(text[cuts[-1] : dot]) <= 1:
                continue
        cuts.append(m.end())
    cuts.append(end)
    spans = []
    for a, b in zip(cuts, cuts[1:]):
        a, b = _strip(text, a, b)
        if b > a:
            spans.append((a, b))
    # inline headers after a sentence end: "... today. P: next visit 3/4"
    out = []
    for a, b in spans:
        label, after = _header_at(text, a, b)
        if label and after < b and label != "timestamp":
            a = after
        out.append((a, b))
    return out


def _split_runon(text: str, start: int, end: int) -> list[tuple[int, int]]:
    if _words(text[start:end]) <= RUNON_WORDS:
        return [(start, end)]
    cuts = [start]
    for m in _RUNON_CUES.finditer(text, start, end):
        if _words(text[cuts[-1] : m.start()]) >= 6:
            cuts.append(m.end())
    cuts.append(end)
    pieces = [_strip(text, a, b) for a, b in zip(cuts, cuts[1:])]
    return [(a, b) for a, b in pieces if b > a]


def _clause_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces = []
    for a, b in _split_runon(text, start, end):
        cuts = [a]
        for m in _CLAUSE_SPLIT_RE.finditer(text, a, b):
            left = text[cuts[-1] : m.start()]
            right = text[m.end() : b]
            if _words(left) >= MIN_CLAUSE_WORDS and _words(right) >= MIN_CLAUSE_WORDS:
                cuts.append(m.end() if text[m.start() : m.end()].strip() in (";", "-", "–", "—") else m.start())
        cuts.append(b)
        for x, y in zip(cuts, cuts[1:]):
            x, y = _strip(text, x, y)
            if y > x:
                pieces.append((x, y))
    return pieces


def segment(text: str) -> Segmentation:
    """Find paragraphs, sentences and clauses in ``text`` (never modified)."""
    paragraphs: list[Paragraph] = []
    sentences: list[Sentence] = []
    clauses: list[Clause] = []
    section: str | None = None
    para_start: int | None = None
    para_end = 0
    para_section: str | None = None
    prev_line_open = False  # previous line ended mid-sentence (soft wrap)
    pending: list[tuple[int, int, str | None]] = []  # sentences of the open paragraph

    def close_paragraph() -> None:
        nonlocal para_start, pending
        if para_start is None:
            return
        p_index = len(paragraphs)
        paragraphs.append(Paragraph(para_start, para_end, p_index, para_section))
        for a, b, sec in pending:
            s_index = len(sentences)
            sentences.append(Sentence(a, b, s_index, p_index, sec))
            for x, y in _clause_spans(text, a, b):
                clauses.append(Clause(x, y, len(clauses), s_index, p_index))
        para_start, pending = None, []

    for line_start, line_end in _lines(text):
        a, b = _strip(text, line_start, line_end)
        if b <= a:  # blank line: paragraph break
            close_paragraph()
            prev_line_open = False
            continue
        label, body = _header_at(text, a, b)
        bullet = BULLET_RE.match(text, body, b)
        new_para = (
            para_start is None
            or label is not None
            or not (prev_line_open and text[a].islower())
            and not (bullet and pending)
        )
        if label is not None and label != "timestamp":
            section = label
        if new_para:
            close_paragraph()
            para_start, para_section = a, section
        if bullet:
            body = bullet.end()
        para_end = b
        for x, y in _sentence_spans(text, body, b):
            pending.append((x, y, section))
        prev_line_open = text[b - 1] not in ".!?:\"'”’)"
    close_paragraph()
    return Segmentation(tuple(paragraphs), tuple(sentences), tuple(clauses))
