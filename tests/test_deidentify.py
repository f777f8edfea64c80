"""De-identification of exported text: each kind of identifier planted is masked, and plain text is left alone."""

from __future__ import annotations

import pytest

from notereader.service.deidentify import Deidentifier, default_deidentifier


@pytest.fixture(scope="module")
def deid() -> Deidentifier:
    return default_deidentifier()


PLANTED = [
    # (sentence, the identifier planted in it, the placeholder expected)
    ("Met with Jane Doe at the office about her rent arrears.", "Jane Doe", "<PERSON>"),
    ("Ms. Alvarez said the heating has been off for a week.", "Alvarez", "<PERSON>"),
    ("Her son Marcus was suspended from school again.", "Marcus", "<PERSON>"),
    ("Call her back on 555-867-5309 after 3pm.", "555-867-5309", "<PHONE_NUMBER>"),
    ("Her mobile is (212) 555-0199 now.", "555-0199", "<PHONE_NUMBER>"),
    ("She can be reached at +44 20 7946 0958 while abroad.", "7946 0958", "<PHONE_NUMBER>"),
    ("Send the forms to rosa.p@example.org by Monday.", "rosa.p@example.org", "<EMAIL_ADDRESS>"),
    ("She now lives at 1200 N. Oak Ave Apt 3B with her aunt.", "1200 N. Oak Ave", "<ADDRESS>"),
    ("The shelter at 42 Elm Street has a bed for tonight.", "42 Elm Street", "<ADDRESS>"),
    ("Mail goes to PO Box 3391 until she is housed.", "Box 3391", "<ADDRESS>"),
    ("Client's DOB is 04/12/1988 per her ID card.", "04/12/1988", "<DATE>"),
    ("She was born on March 3, 1990 in another state.", "March 3, 1990", "<DATE>"),
]


@pytest.mark.parametrize("sentence,planted,placeholder", PLANTED, ids=[p[2] + ":" + p[1] for p in PLANTED])
def test_each_planted_identifier_is_masked(deid, sentence, planted, placeholder):
    out = deid.mask(sentence)
    assert planted not in out.text, out.text
    assert placeholder in out.text, out.text
    assert placeholder.strip("<>") in out.entities


def test_one_sentence_with_every_kind(deid):
    s = ("Jane Doe (DOB 04/12/1988) of 42 Elm Street called from 555-867-5309 and wrote from jane.doe@example.org.")
    out = deid.mask(s)
    for planted in ("Jane", "Doe", "04/12/1988", "42 Elm", "555-867-5309", "jane.doe@example.org"):
        assert planted not in out.text, out.text
    assert set(out.entities) == {"PERSON", "DATE", "ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS"}


@pytest.mark.parametrize("sentence", [
    "Home visit today. The client was calm and we talked through her budget.",
    "She received an eviction notice and must leave by Friday.",
    "No food in the house; skipped meals for three days.",
])
def test_text_without_identifiers_is_unchanged(deid, sentence):
    assert deid.mask(sentence).text == sentence


def test_known_names_are_masked_even_without_a_cue():
    deid = Deidentifier(known_names=["Tomasz"])
    out = deid.mask("Tomasz was upset when the worker left.")
    assert "Tomasz" not in out.text and out.entities == ("PERSON",)
    assert "Kwame" not in default_deidentifier().mask("Kwame was upset.", extra_names=["Kwame"]).text


def test_nothing_is_fetched_from_the_network(deid, monkeypatch):
    """The e-mail domain check and the NLP engine run offline (a socket would fail the test)."""
    import socket

    def refuse(*_a, **_k):
        raise AssertionError("the de-identifier tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert "<EMAIL_ADDRESS>" in Deidentifier().mask("write to a.b@mail.example.co.uk").text
