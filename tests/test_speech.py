"""Quoted first-person speech is also read as a report of it, for citing a raised risk (speech.py)."""

from __future__ import annotations

import numpy as np
import pytest

from notereader.pipeline.matcher import CITE_MARGIN
from notereader.pipeline.speech import REPORT_PREFIX, note_pronoun_is_she, quote_spans, reported


def _quoted(text: str) -> list[str]:
    return [text[a:b] for a, b in quote_spans(text)]


@pytest.mark.parametrize("text, expected", [
    ('Cl said "my rent is late" and left.', ["my rent is late"]),
    ("Cl said \u201cmy rent is late\u201d and left.", ["my rent is late"]),
    ("He called it 'a fresh start' and smiled.", ["a fresh start"]),
    ("Mom: 'I can't keep doing this.'", ["I can't keep doing this."]),
    # apostrophes inside words and a plural possessive are not quotation marks
    ("She doesn't know the kids' school yet.", []),
    # a quotation that does not close on its line is not guessed at
    ('Cl said "I will call you back\nand hung up."', []),
    ("Two quotes: 'first one' and \"second one\".", ["first one", "second one"]),
])
def test_quotations_are_found_on_their_line(text, expected):
    assert _quoted(text) == expected


def test_first_person_quoted_words_are_reported_in_the_third_person():
    text = "Cl said 'I'm scared, he took my keys and told me I am nothing' and cried."
    spans = quote_spans(text)
    plain, prefixed = reported(text, 0, spans, she=True)
    assert plain == "Cl said 'she is scared, he took her keys and told her she is nothing' and cried."
    assert prefixed == REPORT_PREFIX + plain
    assert reported(text, 0, spans, she=False)[0] == \
        "Cl said 'he is scared, he took his keys and told him he is nothing' and cried."


def test_words_outside_quotes_and_quotes_without_first_person_are_left_alone():
    text = "I called the landlord. He said 'the rent is paid' and I thanked him."
    spans = quote_spans(text)
    assert reported(text, 0, spans, she=True) == ()
    # a clause is read with the note's offsets: only its own part of a quotation counts
    clause = "I thanked him."
    assert reported(clause, text.index(clause), spans, she=True) == ()


def test_the_pronoun_follows_the_note():
    assert note_pronoun_is_she("She said her rent is due.")
    assert not note_pronoun_is_she("He said his rent is due; his car broke.")
    assert note_pronoun_is_she("No pronouns here.")


TEXT = ("Office visit with cl re: housing search.\n"
        "Cl disclosed ongoing abuse by her partner; DV advocate paged and a safety plan started.\n"
        "Asked what happened this weekend. \"He locked me out in the snow and said I deserved it.\"\n"
        "She is staying with her aunt tonight.")
QUOTE = '"He locked me out in the snow and said I deserved it."'


def test_a_raised_risk_cites_the_clients_own_words(reader):
    a = reader.analyze_text(TEXT)
    dv = [r for r in a["risks"] if r["rubric_id"] == "domestic_violence"]
    assert dv, a["risks"]
    quotes = [c["quote"] for c in dv[0]["citations"]]
    assert QUOTE in quotes, quotes
    for c in dv[0]["citations"]:
        assert TEXT[c["start"]:c["end"]] == c["quote"]


def test_the_quote_is_cited_on_its_reported_reading_only(reader):
    """In the note's own words the quotation is far under domestic violence's threshold and the
    citing margin; it is cited because its reported reading is near."""
    doc = reader.nlp(TEXT)
    ri = [r.id for r in reader.index.rubrics].index("domestic_violence")
    ci = doc._.clause_texts.index(QUOTE)
    best, _ = reader.index.scores(doc._.clause_matrix, doc._.scoring_texts)
    floor = reader.index.thresholds[ri] - CITE_MARGIN
    assert best[ci, ri] < floor
    readings = doc._.reported_texts[ci]
    assert readings and all("me" not in r.split() for r in readings)
    vecs = np.array([doc._.clause_vectors[t] for t in readings])
    assert reader.index.scores(vecs, list(readings))[0][:, ri].max() >= floor


def test_a_quotation_alone_raises_nothing(reader):
    """The reported readings only cite: a note whose only sign of a risk is a quotation worded
    unlike the rubric does not raise it on them."""
    text = "Asked what happened this weekend. " + QUOTE
    a = reader.analyze_text(text)
    assert "domestic_violence" not in {r["rubric_id"] for r in a["risks"]}
