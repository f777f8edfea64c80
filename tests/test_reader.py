"""The Reader end to end: Analysis v1 shape, citations, suppression, bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from notereader.analysis import fingerprint, text_sha256
from notereader.notes import Note, validate_note
from notereader.paths import SAMPLE_NOTES
from notereader.pipeline.embedder import DEFAULT_MODEL


def all_citations(a):
    for group in ("risks", "themes", "goals", "suppressed"):
        for item in a[group]:
            yield from item["citations"]


def assert_citations_verify(text, a):
    for c in all_citations(a):
        assert text[c["start"]:c["end"]] == c["quote"]
        assert c["quote"].strip()


def test_analysis_v1_shape_and_provenance(reader):
    a = reader.analyze(Note("n1", "Cl said the lights got cut off Tuesday and the kids have been eating cereal for dinner.",
                            (("G1", "Keep the electricity on"),)))
    assert set(a) >= {"note_id", "text_sha256", "risks", "themes", "goals", "suppressed", "provenance", "fingerprint"}
    assert a["fingerprint"] == fingerprint(a)
    assert a["text_sha256"] == text_sha256("Cl said the lights got cut off Tuesday and the kids have been eating cereal for dinner.")
    prov = a["provenance"]
    assert prov["engine_version"] and prov["engine_data_sha256"]
    assert prov["models"] == {DEFAULT_MODEL: reader.embedder.manifest.sha256}
    assert set(prov["ruleset"]["rubrics"]) == {r.id for r in reader.ruleset.rubrics}
    for r in a["risks"]:
        assert set(r) >= {"rubric_id", "rubric_version", "severity", "score", "citations"}
        assert 0.0 <= r["score"] <= 1.0 and round(r["score"], 4) == r["score"]
    for g in a["goals"]:
        assert g["direction"] in ("progress", "setback", "mentioned")


def test_sample_notes_cite_exactly(reader):
    notes = [json.loads(line) for line in SAMPLE_NOTES.read_text(encoding="utf-8").splitlines() if line.strip()]
    parsed = [validate_note(n)[0] for n in notes]
    for note, a in zip(parsed, reader.analyze_many(parsed, batch_size=8)):
        assert a["note_id"] == note.note_id
        assert_citations_verify(note.text, a)


def test_negated_mention_is_suppressed_with_its_cue(reader):
    text = "Writer asked directly about suicidal thoughts. Client denies any suicidal ideation or plan."
    a = reader.analyze(Note("neg", text))
    assert "self_harm" not in {r["rubric_id"] for r in a["risks"]}
    why = {s["reason"]: s for s in a["suppressed"] if s["rubric_id"] == "self_harm"}
    assert why["negated"]["cue"].lower() == "denies"
    assert why["hypothetical"]["cue"].lower() == "asked directly about"  # a question asserts nothing
    why = [why["negated"]]
    cue = why[0]["cue_span"]
    assert text[cue["start"]:cue["end"]] == why[0]["cue"]


def test_discharge_instructions_list_what_might_happen(reader):
    """An instruction lists symptoms to call about; it asserts none of them (engine 1.6.0 raised
    medical_urgent here)."""
    text = "Discharge instructions given. Call for any chest pain, trouble breathing or a seizure."
    a = reader.analyze(Note("instr", text))
    assert "medical_urgent" not in {r["rubric_id"] for r in a["risks"]}
    why = {s["rubric_id"]: s for s in a["suppressed"]}
    assert why["medical_urgent"]["reason"] == "hypothetical" and why["medical_urgent"]["cue"] == "Call for"


def test_other_person_and_resolved_are_not_raised(reader):
    a = reader.analyze(Note("o", "Her cousin was evicted from the trailer park last month. The warrant from 2023 was recalled and cleared in court."))
    raised = {r["rubric_id"] for r in a["risks"]}
    assert "housing_loss" not in raised and "legal_jeopardy" not in raised


def test_crlf_offsets_index_the_text_as_received(reader):
    text = "S: Cl upset today.\r\nO: Eviction notice taped to the door, dated yesterday.\r\n\r\nP: call legal aid."
    a = reader.analyze(Note("crlf", text))
    assert_citations_verify(text, a)
    assert "housing_loss" in {r["rubric_id"] for r in a["risks"]}


@pytest.mark.parametrize("text", [
    "ok",
    "Okay",
    "no punctuation at all in this note cl came in and we talked about the rent being late and the landlord",
    "🙂🙂🙂 cl smiled 👍 rent paid",
    "Оксана сказала, что денег на еду нет. 她说房租已经付了。",
    "\x07\x1b[31m control \x00 characters \x7f in the note.",
    "- a\n  - b\n    - c\n      - d",
    "- ",
    "P: ",
    "x" * 5000,
])
def test_awkward_text_never_crashes_and_citations_verify(reader, text):
    a = reader.analyze(Note("odd", text))
    assert_citations_verify(text, a)


@pytest.mark.parametrize("obj,key", [
    ({"note_id": "a", "text": ""}, "text"),
    ({"note_id": "a", "text": "   \n\t "}, "text"),
    ({"note_id": "a", "text": "x" * (200 * 1024 + 1)}, "text"),
    ({"note_id": "a", "text": "bad \ud800 surrogate"}, "text"),
    ({"text": "no id"}, "note_id"),
    ({"note_id": "a", "text": "t", "plan": {"goals": [{"goal_id": "G1", "text": "x"}, {"goal_id": "G1", "text": "y"}]}}, "plan.goals[1].goal_id"),
    ({"note_id": "a", "text": "t", "plan": {"goals": [{"goal_id": "G1", "text": "  "}]}}, "plan.goals[0].text"),
    ({"note_id": "a", "text": "t", "plan": {"goals": "G1"}}, "plan.goals"),
])
def test_bad_notes_are_refused_naming_the_key(obj, key):
    note, problems = validate_note(obj, "in.jsonl", 3)
    assert note is None
    assert any(p.key == key and p.line == 3 for p in problems), problems


def test_empty_plan_is_fine(reader):
    note, problems = validate_note({"note_id": "a", "text": "Cl came in.", "plan": {"goals": []}})
    assert problems == [] and reader.analyze(note)["goals"] == []


def test_same_goal_text_under_two_ids_is_reported_for_both(reader):
    goals = (("G1", "Pay rent on time"), ("G2", "Pay rent on time"))
    a = reader.analyze(Note("g", "Cl paid March rent on the 1st and showed the receipt.", goals))
    assert [g["goal_id"] for g in a["goals"]] == ["G1", "G2"]
    assert a["goals"][0]["direction"] == a["goals"][1]["direction"] == "progress"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300).filter(lambda t: t.strip()))
def test_every_citation_verifies_on_arbitrary_text(reader, text):
    assert_citations_verify(text, reader.analyze(Note("h", text)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from([
    "Cl denies SI.", "The lights got cut off", "\r\n", "\n\n", "- ", "  ", "P: ", "rent paid.", "hx of relapse",
    "if the landlord files", "her sister was evicted", "🙂", "Ms. R. said", ";", "but", "x" * 300,
]), min_size=1, max_size=30).map("".join).filter(lambda t: t.strip()))
def test_citations_verify_on_case_note_shaped_text(reader, text):
    assert_citations_verify(text, reader.analyze(Note("h", text)))


def test_a_raised_risk_brings_the_theme_it_implies(reader):
    a = reader.analyze(Note("dv", "Cl said her boyfriend grabbed her by the throat on Saturday and she has bruises on her neck."))
    assert "domestic_violence" in {r["rubric_id"] for r in a["risks"]}
    themes = {t["rubric_id"]: t for t in a["themes"]}
    assert "safety" in themes
    implied = reader.ruleset.by_id()["safety"].implied_by
    assert "domestic_violence" in implied


def test_goal_matching_uses_the_life_area_of_goal_and_clause(reader):
    """A goal about ID documents is matched to the clause about a birth certificate, not to small talk."""
    from notereader.notes import Note

    text = ("Cl talked about her weekend with her kids at the park. "
            "Cl picked up her certified birth certificate from vital records on Monday.")
    docs = list(reader.nlp.pipe(reader._docs([Note("g1", text, (("G1", "Obtain a state photo ID"),))])))
    profiles = docs[0]._.theme_profiles
    assert set(profiles) >= {"Obtain a state photo ID"}
    for v in profiles.values():
        assert abs(float(v @ v) - 1.0) < 1e-9 or float(v @ v) == 0.0
    a = reader.analyze(Note("g1", text, (("G1", "Obtain a state photo ID"),)))
    (goal,) = a["goals"]
    assert "birth certificate" in goal["citations"][0]["quote"]
    assert -1.0 <= goal["score"] <= 1.0


@pytest.mark.parametrize("text,raised", [
    # a record field names who or what the note is about
    ("Caregiver: Uncle Ray Delgado, the client's brother.", set()),
    ("Topic today: safe sleep and toddler tantrums.", set()),
    # a finding under a label that often heads an account is still a finding
    ("Child: left alone in the car for an hour while mom shopped.", {"child_safeguarding"}),
    # and a literal phrase in a record field still counts
    ("Topic today: she told me her boyfriend choked her on Sunday.", {"domestic_violence"}),
])
def test_record_fields_raise_nothing_on_meaning(reader, text, raised):
    assert {r["rubric_id"] for r in reader.analyze(Note("field", text))["risks"]} == raised
