"""Which clauses a finding cites: observations before the worker's assessment and plan."""

from __future__ import annotations

import spacy

from notereader.analysis import MAX_CITATIONS, _cite
from notereader.pipeline.components import SEGMENTER

NOTE = (
    "D: Cl said the landlord taped a notice to her door telling her to be out by Friday.\n"
    "A: Imminent loss of housing. Cl has no savings to cover a move.\n"
    "P: CM will call the landlord and refer cl to legal aid. Shelter list given.\n"
)


def _doc(text: str):
    nlp = spacy.blank("en")
    nlp.add_pipe(SEGMENTER)
    return nlp(text)


def _clause_of(doc, needle: str) -> int:
    return next(c.index for c in doc._.segmentation.clauses if needle in doc.text[c.start:c.end])


def test_observed_clause_is_cited_before_higher_scored_assessment_and_plan():
    doc = _doc(NOTE)
    seen = _clause_of(doc, "taped a notice")
    response = [_clause_of(doc, s) for s in ("Imminent loss", "no savings", "legal aid", "Shelter list")]
    cites = _cite(doc, [(0.99, ci) for ci in response] + [(0.6, seen)])
    assert cites[0]["quote"].startswith("Cl said the landlord")
    assert len(cites) == MAX_CITATIONS


def test_without_sections_the_strongest_clauses_are_cited():
    doc = _doc("Cl was told to leave the unit by Friday. She has nowhere to go. Her son starts school Monday.")
    clauses = doc._.segmentation.clauses
    cites = _cite(doc, [(0.5, clauses[2].index), (0.9, clauses[1].index)])
    assert [c["quote"] for c in cites] == [doc.text[clauses[1].start:clauses[1].end], doc.text[clauses[2].start:clauses[2].end]]


def test_only_the_top_clauses_are_cited():
    doc = _doc(NOTE)
    scored = [(0.9, c.index) for c in doc._.segmentation.clauses]
    assert len(_cite(doc, scored)) == min(MAX_CITATIONS, len(scored))


# Supporting evidence (matcher.CITE_MARGIN): invented notes, not from any evaluation corpus.

def _risk(a, rubric_id):
    return next((r for r in a["risks"] if r["rubric_id"] == rubric_id), None)


def test_a_raised_risk_also_cites_the_first_hand_account_just_under_its_threshold(reader):
    from notereader.notes import Note

    text = "Hotline report made about Mia, age 3. Mia was on her own in the apartment for a while that afternoon."
    r = _risk(reader.analyze(Note("t-support", text, ())), "child_safeguarding")
    assert r is not None
    quotes = [c["quote"] for c in r["citations"]]
    assert "Mia was on her own in the apartment for a while that afternoon." in quotes
    for c in r["citations"]:
        assert text[c["start"]:c["end"]] == c["quote"]


def test_supporting_evidence_alone_raises_nothing(reader):
    from notereader.notes import Note

    a = reader.analyze(Note("t-support-alone", "Mia was on her own in the apartment for a while that afternoon.", ()))
    assert _risk(a, "child_safeguarding") is None
    assert not any(s["rubric_id"] == "child_safeguarding" for s in a["suppressed"])


def test_a_negated_clause_is_not_cited_as_support(reader):
    from notereader.notes import Note

    text = ("Hotline report made about Mia, age 3. "
            "Mom denies that Mia was on her own in the apartment for a while that afternoon.")
    r = _risk(reader.analyze(Note("t-support-neg", text, ())), "child_safeguarding")
    assert r is not None
    # the clause scores within CITE_MARGIN of the threshold, but "denies" stops it
    assert all("denies" not in c["quote"] for c in r["citations"])


def test_a_rubric_raised_by_a_phrase_alone_also_cites_what_the_phrase_was_about(reader):
    """A report named by a phrase is cited with the clause that says what was seen, the nearest in meaning
    (here that clause scores far under the threshold: without the rule only the hotline clause is cited)."""
    text = ("Visit at 9 pm. The two little ones were on the kitchen floor eating dry cereal from the box, and dad had "
            "been out since the morning. CM phoned the DCFS hotline afterwards.")
    a = reader.analyze_text(text)
    risk = {r["rubric_id"]: r for r in a["risks"]}["child_safeguarding"]
    quotes = [c["quote"] for c in risk["citations"]]
    assert any("two little ones were on the kitchen floor" in q for q in quotes), quotes
    assert any("DCFS hotline" in q for q in quotes), quotes


def test_a_childs_account_naming_the_adult_who_hurt_him_is_cited(reader):
    """The person named is the one who did it, not the one it happened to: the other-person rule decides
    that (the clause brings the child back in with "him"), not the bare presence of "uncle"."""
    text = ("Report made to the CPS hotline. At pickup Jonah, 6, said his uncle left him with bruises on his legs "
            "after the party.")
    risk = _risk(reader.analyze_text(text), "child_safeguarding")
    assert risk is not None
    assert any("his uncle left him with bruises" in c["quote"] for c in risk["citations"]), risk["citations"]


def test_another_familys_children_are_not_cited_as_what_a_report_was_about(reader):
    text = "Report made to the CPS hotline. Her neighbor's boys were left by themselves all weekend with no food."
    risk = _risk(reader.analyze_text(text), "child_safeguarding")
    assert risk is not None
    assert [c["quote"] for c in risk["citations"]] == ["Report made to the CPS hotline."]


def test_a_report_named_beside_a_finding_also_cites_what_the_child_said(reader):
    """The hotline phrase names the worker's response, not what was seen: the clause nearest the rubric
    in meaning is cited with it even when another clause raised the rubric by meaning (here the child's
    account scores far under the threshold: without the rule it is not cited)."""
    text = ("The baby was left alone in the apartment for two hours this afternoon. Report made to the CPS "
            "hotline. Jaylen, 8, said he makes dinner for his sister most nights because mom is asleep when "
            "they get home.")
    risk = _risk(reader.analyze_text(text), "child_safeguarding")
    quotes = [c["quote"] for c in risk["citations"]]
    assert any(q.startswith("Jaylen, 8, said he makes dinner") for q in quotes), quotes


def test_a_phrase_whose_clause_reads_as_the_rubric_brings_no_guess(reader):
    text = "Landlord served an eviction notice on Monday. Cl asked for help with moving boxes."
    risk = _risk(reader.analyze_text(text), "housing_loss")
    assert [c["quote"] for c in risk["citations"]] == ["Landlord served an eviction notice on Monday."]


def test_the_nearest_clause_a_cue_stops_gives_way_to_the_next(reader):
    """"HV saw no marks" reads most like the rubric but is negated, so it is not the evidence: the next
    nearest clause, the child's account, is cited beside the hotline report."""
    text = ("Report made to the CPS hotline. HV saw no marks or bruises on the baby. Jaylen, 8, said he makes "
            "dinner for his sister most nights because mom is asleep when they get home.")
    risk = _risk(reader.analyze_text(text), "child_safeguarding")
    quotes = [c["quote"] for c in risk["citations"]]
    assert not any("saw no marks" in q for q in quotes), quotes
    assert any(q.startswith("Jaylen, 8, said he makes dinner") for q in quotes), quotes
