"""`notereader rubrics test`: the starter library's own examples through the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from notereader.rubrics.schema import load_rubrics
from notereader.rubrics.testing import run_examples

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_starter_library_examples(reader):
    """Every example passes, except those a rubric lists under known_failures, each with its reason."""
    report = run_examples(ROOT / "rubrics", reader)
    assert report.total >= 28 * 12
    assert report.failures == [], "\n".join(report.failures)
    listed = sum(len(r.known_failures) for r in load_rubrics(ROOT / "rubrics").rubrics)
    assert len(report.known) == listed
    # Every known failure names the file, the example, what happened instead, and why it is known.
    for f in report.known:
        assert ".yaml: examples." in f and ("did not raise" in f or "raised" in f) and "\n    known: " in f
    # A theme raised only because a risk implies it says so: this one is a mental_health_crisis false positive.
    [theme] = [f for f in report.known if "mental_health.yaml: examples.no_flag[0]" in f]
    assert "raised mental_health through implied_by mental_health_crisis (score " in theme


def test_failures_are_reported_with_location(reader, rubric_dir):
    path = rubric_dir / "food_insecurity.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "  no_flag:\n"
    assert marker in text
    path.write_text(text.replace(marker, marker + "    - The family has had nothing to eat for three days.\n"), encoding="utf-8")
    report = run_examples(rubric_dir, reader)
    mine = [f for f in report.failures if "food_insecurity.yaml: examples.no_flag[0] raised food_insecurity" in f]
    assert mine, report.failures


def test_a_known_failure_that_passes_is_a_failure(reader, rubric_dir):
    """A fixed example must leave known_failures, or the list would hide the next regression of it."""
    path = rubric_dir / "food_insecurity.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "known_failures:\n  no_flag[0]: Said to fail, but it passes.\n",
                    encoding="utf-8")
    report = run_examples(rubric_dir, reader)
    stale = [f for f in report.failures if "food_insecurity.yaml: examples.no_flag[0] now passes" in f]
    assert stale and "remove known_failures.no_flag[0]" in stale[0], report.failures
    assert not any("food_insecurity.yaml" in f for f in report.known)
