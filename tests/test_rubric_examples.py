"""`notereader rubrics test`: the starter library's own examples through the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from notereader.rubrics.testing import run_examples

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_starter_library_examples(reader):
    failures, total = run_examples(ROOT / "rubrics", reader)
    assert total >= 28 * 12
    # Every failure names the file, the example and what happened instead.
    for f in failures:
        assert ".yaml: examples." in f and ("did not raise" in f or "raised" in f)
    pass_rate = 1 - len(failures) / total
    assert pass_rate >= 0.9, "\n".join(failures)


def test_failures_are_reported_with_location(reader, rubric_dir):
    path = rubric_dir / "food_insecurity.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "  no_flag:\n"
    assert marker in text
    path.write_text(text.replace(marker, marker + "    - The family has had nothing to eat for three days.\n"), encoding="utf-8")
    failures, _total = run_examples(rubric_dir, reader)
    mine = [f for f in failures if "food_insecurity.yaml: examples.no_flag[0] raised food_insecurity" in f]
    assert mine, failures
