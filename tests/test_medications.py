"""A named medicine is read with its kind: "out of his Keppra" as "out of his Keppra (seizure medication)"."""

from __future__ import annotations

import pytest

from notereader.notes import Note
from notereader.pipeline.medications import MedicationLexicon


@pytest.fixture(scope="module")
def lexicon() -> MedicationLexicon:
    return MedicationLexicon.load()


@pytest.mark.parametrize("text, expected", [
    ("Out of her Lantus since Sunday.", "Out of her Lantus (insulin) since Sunday."),
    # whatever the case the note writes it in
    ("ran out of KEPPRA friday", "ran out of KEPPRA (seizure medication) friday"),
    # the kind already beside the name is not said twice
    ("his levetiracetam (seizure medication) ran out", "his levetiracetam (seizure medication) ran out"),
    # whole words only
    ("Warfarinous is not a word; lasixx is a typo.", "Warfarinous is not a word; lasixx is a typo."),
])
def test_a_known_name_gets_its_kind(lexicon, text, expected):
    assert lexicon.annotate(text) == expected


def test_quotes_and_citations_keep_the_notes_own_words(reader):
    text = "He ran out of his Keppra on Friday."
    (risk,) = [r for r in reader.analyze(Note("med-q", text, ()))["risks"] if r["rubric_id"] == "medical_urgent"]
    assert [c["quote"] for c in risk["citations"]] == [text]


@pytest.mark.parametrize("text", [
    "He ran out of his Keppra on Friday.",
    "Out of Eliquis for a week, says the copay is too much.",
    "She has had no Biktarvy for ten days.",
])
def test_running_out_of_a_named_medicine_is_urgent(reader, text):
    # without the kind beside the name, none of these raised anything (engine 1.15.0)
    assert "medical_urgent" in {r["rubric_id"] for r in reader.analyze(Note("med", text, ()))["risks"]}


def test_a_refill_picked_up_is_not_urgent(reader):
    note = Note("med-ok", "He picked up his Lantus refill at the pharmacy and logs his sugars daily.", ())
    assert not reader.analyze(note)["risks"]
