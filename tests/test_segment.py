"""Segmentation: structure found, offsets always index the text as received."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from notereader.pipeline.segment import segment


def quotes(text: str) -> list[str]:
    return [text[c.start:c.end] for c in segment(text).clauses]


def test_soap_headers_start_paragraphs_and_are_not_quoted():
    text = "S: Cl states she is tired.\nO: Apartment clean.\nA: Stable.\nP: Next HV 4/6."
    seg = segment(text)
    assert [p.section for p in seg.paragraphs] == ["S", "O", "A", "P"]
    assert [text[s.start:s.end] for s in seg.sentences] == ["Cl states she is tired.", "Apartment clean.", "Stable.", "Next HV 4/6."]


def test_word_headers_and_timestamps():
    text = "Contact type: home visit\nNext steps: call landlord Monday.\n03/02/2026 10:15 - Cl called back, rent paid."
    seg = segment(text)
    assert [p.section for p in seg.paragraphs] == ["contact type", "next steps", "next steps"]
    assert text[seg.sentences[-1].start:seg.sentences[-1].end] == "Cl called back, rent paid."


def test_abbreviations_do_not_end_sentences():
    text = "Met Ms. R. at the office on Main St. today. She brought her lease."
    seg = segment(text)
    assert len(seg.sentences) == 2


def test_bullets_are_sentences_in_one_paragraph():
    text = "Tasks today:\n- called the landlord\n- filled the SNAP form\n* booked a ride"
    seg = segment(text)
    assert len(seg.paragraphs) == 1
    assert [text[s.start:s.end] for s in seg.sentences][1:] == ["called the landlord", "filled the SNAP form", "booked a ride"]


def test_crlf_offsets_index_the_original_text():
    text = "D: Cl came in.\r\nA: Doing well overall; rent paid on time.\r\n\r\nP: f/u Friday."
    for c in segment(text).clauses:
        assert "\r" not in text[c.start:c.end] and "\n" not in text[c.start:c.end]
    assert quotes(text) == ["Cl came in.", "Doing well overall", "rent paid on time.", "f/u Friday."]


def test_dictated_run_on_is_cut_into_clauses():
    text = ("home visit w the family at the apt kids were at school mom was tired and said the rent is late again "
            "then she showed me the letter from the landlord and worker read it with her and we called legal aid "
            "worker will follow up tomorrow")
    qs = quotes(text)
    assert len(qs) >= 3
    assert all(len(q.split()) <= 40 for q in qs)


def test_clauses_split_on_but_and_semicolons():
    assert quotes("Cl denies SI, but reports the lights were cut off yesterday.") == [
        "Cl denies SI", "but reports the lights were cut off yesterday."]


def test_one_word_empty_and_no_punctuation():
    assert quotes("") == []
    assert quotes("   \n\t ") == []
    assert quotes("Okay") == ["Okay"]
    assert quotes("no punctuation at all here") == ["no punctuation at all here"]


def test_emoji_and_non_latin_scripts_keep_offsets():
    text = "Оксана пришла вовремя 🙂. 她今天付了房租。 Cl smiled 👍"
    for c in segment(text).clauses:
        assert text[c.start:c.end].strip() == text[c.start:c.end]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_spans_are_ordered_non_empty_and_inside_the_text(text):
    seg = segment(text)
    last = -1
    for c in seg.clauses:
        assert 0 <= c.start < c.end <= len(text)
        assert c.start >= last
        last = c.end
        assert text[c.start:c.end].strip()
    for s in seg.sentences:
        assert 0 <= s.start < s.end <= len(text)
