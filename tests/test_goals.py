"""Goal direction: the cue reading of a clause and how it combines with the classifier.

Sentences here are invented for the tests, in the general language of case
notes; none comes from an evaluation corpus.
"""

from __future__ import annotations

import numpy as np
import pytest

from notereader.notes import Note
from notereader.pipeline.goals import (OTHER_GOAL_WEIGHT, CueReading, GoalCues, clause_direction, decide_direction,
                                      other_goal_penalty)


@pytest.fixture(scope="module")
def cues(nlp):
    return GoalCues(nlp)


def _last_sentence_direction(nlp, cues, text: str, lead: str = "Home visit at 2pm with the family. ") -> str:
    """Direction of the second sentence, so the clause does not start at the first token of the Doc."""
    doc = nlp.make_doc(lead + text)
    start = len(nlp.make_doc(lead))
    return clause_direction(doc, cues, start, len(doc)).direction


@pytest.mark.parametrize("text, expected", [
    # a negated setback cue later in the note is progress (the window is read from the Doc)
    ("Pharmacy records show no missed refills since January.", "progress"),
    ("She has not missed a single tutoring session this term.", "progress"),
    ("He hasn't missed work since the schedule change.", "progress"),
    # a negated progress cue is a setback
    ("He never attended the budgeting workshop.", "setback"),
    ("Cl did not return the signed lease.", "setback"),
    # planned steps with no movement are a plan, not progress
    ("Worker will call the landlord about the repair list tomorrow.", "planned"),
    ("She asked about the evening GED classes at the library.", "planned"),
    ("The disability claim is still pending with SSA.", "planned"),
    # explicit movement
    ("He started drinking again after the layoff.", "setback"),
    ("She used her last insulin pen on Friday.", "setback"),
    ("The shoplifting charge was dismissed after the diversion program.", "progress"),
    ("Grandmother paid the full water bill on Monday.", "progress"),
    ("Talking with the family about the weekend.", "mentioned"),
    # case work's shorthand for a missed appointment
    ("Dad NCNS for the parenting group on Thursday night.", "setback"),
    ("She was a no call no show at the warehouse orientation.", "setback"),
    # "used" alone is a skill put to use ("used her coping card"); used with a drug is use, and denying it is progress
    ("He used meth on Saturday with his old roommate.", "setback"),
    ("He has not used meth since his sister's wedding, he says.", "progress"),
    ("She used her coping card on the long bus ride home.", "progress"),
    ("Both boys have had perfect attendance since the winter break.", "progress"),
    ("The hold on her license was lifted once the fines were paid.", "progress"),
    # denied use without naming a drug, time sober counted in weeks, months or years, a step arranged or granted,
    # a group still attended ("still going to" is not a plan), and a stretch without contact
    ("She hasn't used any pills since she moved into the sober house.", "progress"),
    ("He is eleven months sober and now chairs the Monday meeting.", "progress"),
    ("The social worker arranged a same-week dental visit for the twins.", "progress"),
    ("His petition to seal the old record was granted.", "progress"),
    # a court granting the landlord possession is the tenancy's end, not a petition won (a tie reads as setback)
    ("The judge granted the landlord possession of the unit on Tuesday.", "setback"),
    ("She is still going to the Wednesday grief group at the church.", "progress"),
    ("Mom finally answered on Friday after two weeks of no contact.", "setback"),
    # agreeing to a step is not a plan for later: the note's annotators count it as progress more often than not,
    # so no cue forces it to a mention and the classifier decides
    ("She agreed to a trial week at the adult day program.", "mentioned"),
])
def test_clause_cues_read_from_the_doc(nlp, cues, text, expected):
    assert _last_sentence_direction(nlp, cues, text) == expected


def test_negation_window_does_not_reach_into_the_previous_clause(nlp, cues):
    doc = nlp.make_doc("Mom said no. Paid the gas bill today.")
    start = len(nlp.make_doc("Mom said no. "))
    assert clause_direction(doc, cues, start, len(doc)) == CueReading("progress", False)


def test_a_negated_cue_is_marked_as_such(nlp, cues):
    doc = nlp.make_doc("She has not missed a home visit this month.")
    assert clause_direction(doc, cues, 0, len(doc)) == CueReading("progress", True)


@pytest.mark.parametrize("p, cue, negated, expected", [
    ((0.6, 0.3, 0.1), "mentioned", False, "progress"),   # no cue: the classifier decides
    ((0.6, 0.3, 0.1), "setback", False, "setback"),      # a supported cue wins
    ((0.9, 0.05, 0.05), "setback", False, "progress"),   # an unsupported cue does not (under CUE_SUPPORT)
    ((0.8, 0.12, 0.08), "setback", False, "setback"),    # a weakly supported cue does
    ((0.05, 0.9, 0.05), "progress", True, "progress"),   # a negated cue ("has not missed") always wins
    ((0.7, 0.05, 0.25), "planned", False, "mentioned"),  # a plan with some support for "mentioned"
    ((0.9, 0.05, 0.05), "planned", False, "progress"),   # a plan the classifier rules out
])
def test_decide_direction(p, cue, negated, expected):
    assert decide_direction(np.array(p), CueReading(cue, negated)) == expected


def test_a_negated_missed_appointment_is_progress_end_to_end(reader):
    goals = (("G1", "Keep all psychiatry appointments"),)
    text = "Met cl at the library. He has not missed a psychiatry appointment since February."
    (g,) = reader.analyze(Note("t-goals", text, goals))["goals"]
    assert g["direction"] == "progress"
    assert g["citations"][0]["quote"].startswith("He has not missed")


def test_a_goal_worded_unlike_the_note_is_found_by_its_life_area(reader):
    """Meaning alone stays under GOAL_THRESHOLD; meaning plus the shared life area (employment) reaches AREA_THRESHOLD."""
    text = "Ana said she has kept the same schedule at the laundromat for three months."
    (g,) = reader.analyze(Note("t-area", text, (("G1", "Maintain steady employment"),)))["goals"]
    assert g["score"] < 0.2
    assert g["citations"][0]["quote"] == text


def test_a_title_line_is_not_cited_when_a_sentence_tells_what_happened(reader):
    text = "Bus pass renewal\nDwayne said the new monthly pass came in the mail and he used it all week to get to work."
    (g,) = reader.analyze(Note("t-title", text, (("G1", "Get a reduced-fare bus pass"),)))["goals"]
    assert g["citations"][0]["quote"].startswith("Dwayne said the new monthly pass")
    assert g["direction"] == "progress"


@pytest.mark.parametrize("text, goal, expected", [
    ("Cl told the counselor she started using heroin again after her cousin's funeral.", "Stay clean from opioids", "setback"),
    ("He asked whether the library still runs the free computer class on Fridays.", "Learn basic computer skills",
     "mentioned"),
])
def test_direction_of_resumed_use_and_of_a_question(reader, text, goal, expected):
    (g,) = reader.analyze(Note("t-dir", text, (("G1", goal),)))["goals"]
    assert g["direction"] == expected


@pytest.mark.parametrize("text, expected", [
    # overlapping cues read as the longest: "dropped off" is a delivery, not "dropped" from a program
    ("She dropped off the signed consent forms at the front desk.", "progress"),
    # "filed for eviction" is the landlord's step against the tenancy, not "filed" paperwork
    ("The property manager filed for eviction on Monday.", "setback"),
    # a negated setback cue inside a longer phrase: "has not had a drink"
    ("He has not had a drink since the holidays, his sponsor says.", "progress"),
    ("Carlos no-showed the intake at the training center again.", "setback"),
    # a phrase that only contains a cue word hides it (not_cues), like a ConText pseudo-trigger
    ("She asked again about the reduced-fare pass for seniors.", "mentioned"),
    ("We went over his relapse prevention plan at the kitchen table.", "mentioned"),
    ("He bought a used car with his tax refund.", "mentioned"),
    # "quit smoking" is progress, not a job quit
    ("She quit smoking three weeks ago and is chewing the gum.", "progress"),
])
def test_overlapping_cues_read_as_the_longest(nlp, cues, text, expected):
    assert _last_sentence_direction(nlp, cues, text) == expected


@pytest.mark.parametrize("text, line, expected", [
    ("Housing search f/u - Dana R. (34)\nDana toured two units.", "Housing search f/u - Dana R. (34)", True),
    ("Dana toured two units.\nNext visit Friday", "Next visit Friday", True),
    ("Housing search f/u - Dana R. (34)\nDana toured two units.", "Dana toured two units.", False),
])
def test_a_line_that_ends_without_a_full_stop_is_a_title(text, line, expected):
    from notereader.pipeline.goals import _is_title

    start = text.index(line)
    assert _is_title(text, start, start + len(line)) is expected


def test_a_title_line_of_several_words_is_not_cited_over_what_happened(reader):
    text = "Warehouse job check-in with Marcus\nHe said he was let go on Friday after two missed shifts."
    (g,) = reader.analyze(Note("t-title-line", text, (("G1", "Keep the warehouse job"),)))["goals"]
    assert g["citations"][0]["quote"].startswith("He said he was let go")
    assert g["direction"] == "setback"


def test_a_background_clause_is_not_cited_over_what_happened_now(reader):
    text = ("Ms. Okafor had been stable on her mood medication for two years before the move. "
            "Today she told the worker she stopped taking it last week because it made her tired.")
    (g,) = reader.analyze(Note("t-background", text, (("G1", "Take mood medication as prescribed"),)))["goals"]
    assert g["citations"][0]["quote"].startswith("Today she told the worker")
    assert g["direction"] == "setback"


def test_the_opening_contact_line_is_not_cited_over_what_happened(reader):
    """The note's first sentence records the visit; the goal moved in the next one (CONTACT_PENALTY)."""
    text = "Home visit with Ms. Diaz about her job search. She started at the grocery store on Monday, 30 hours a week."
    (g,) = reader.analyze(Note("t-contact", text, (("G1", "Find a job"),)))["goals"]
    assert g["citations"][0]["quote"].startswith("She started at the grocery store")
    assert g["direction"] == "progress"


def test_a_clause_nearer_another_goal_of_the_plan_is_ranked_down_by_part_of_the_gap():
    area = {"Finish the parenting class series": np.array([0.70, 0.20, 0.40]),
            "Keep the children supervised": np.array([0.50, 0.45, 0.40])}
    pen = other_goal_penalty(area, "Keep the children supervised")
    # clause 0 speaks to the class (0.70 against 0.50): ranked down; clause 1 is this goal's own; clause 2 a tie
    assert pen.tolist() == [round(OTHER_GOAL_WEIGHT * 0.20, 4), 0.0, 0.0]
    assert other_goal_penalty(area, "Finish the parenting class series").tolist() == [0.0, round(OTHER_GOAL_WEIGHT * 0.25, 4), 0.0]


def test_a_plan_of_one_goal_has_no_other_goal_penalty():
    area = {"Keep stable housing": np.array([0.3, 0.6])}
    assert other_goal_penalty(area, "Keep stable housing").tolist() == [0.0, 0.0]
