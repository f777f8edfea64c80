"""Themes: the life areas a note is about, not every passing word.

A theme is raised for what the note discusses about the client now: a past
matter, another person's matter or (for substance use, mental health and
food) a denied one does not raise it; a risk implies only the themes it is
always about. Sentences here are written for the test, not taken from any
corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from notereader.rubrics.schema import load_rubrics

ROOT = Path(__file__).resolve().parent.parent


def _themes(reader, text: str) -> set[str]:
    return {t["rubric_id"] for t in reader.analyze_text(text)["themes"]}


def test_risks_imply_only_the_themes_they_are_always_about():
    rubrics = load_rubrics(ROOT / "rubrics").by_id()
    # a suicide-risk note is about mental health; "safety" is kept for harm from or to others
    assert "self_harm" not in rubrics["safety"].implied_by
    assert "self_harm" in rubrics["mental_health"].implied_by
    # a child-protection concern is about parenting, not by itself about family relationships
    assert "child_safeguarding" not in rubrics["family_relationships"].implied_by
    assert "child_safeguarding" in rubrics["childcare_parenting"].implied_by


@pytest.mark.parametrize("kind", ["historical", "other_person"])
def test_theme_needs_the_clients_current_matter(reader, kind):
    text = {
        "historical": "In 2019 she was evicted from a place on the east side.",
        "other_person": "Her brother lost his apartment last year and now rents a room across town.",
    }[kind]
    assert "housing" not in _themes(reader, text)
    assert "housing" in _themes(reader, "Client is two months behind on rent and her landlord has started the court paperwork.")


def test_past_sobriety_is_not_a_substance_use_topic(reader):
    assert "substance_use" not in _themes(reader, "Client quit drinking in 2009 and has not had a drink since.")


def test_self_harm_note_is_about_mental_health_not_safety(reader):
    a = reader.analyze_text("Client told the counselor she has been thinking about ending her life. "
                            "Counselor and client completed a safety plan and removed the pills from the home.")
    assert "self_harm" in {r["rubric_id"] for r in a["risks"]}
    themes = {t["rubric_id"] for t in a["themes"]}
    assert "mental_health" in themes
    assert "safety" not in themes


@pytest.mark.parametrize("text,theme", [
    ("Client works about 30 hours a week cleaning offices for a janitorial company.", "employment"),
    ("Client is in week six of a phlebotomy certificate course and has not missed a class.", "education_training"),
    ("The visiting nurse weighed the baby and he is gaining well.", "physical_health"),
])
def test_ordinary_statements_of_a_life_area_raise_it(reader, text, theme):
    assert theme in _themes(reader, text)
