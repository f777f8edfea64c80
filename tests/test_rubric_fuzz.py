"""The rubric loader on hostile and broken input: always a clear problem naming file, line and key; never a hang.

Billion-laughs aliases, huge and endless files, deep nesting, wrong types,
and arbitrary text or bytes (Hypothesis, derandomized). Rubric phrases are
literal token sequences, never regular expressions, so a phrase that would
make a backtracking engine run for hours is matched in linear time.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notereader.errors import Problem
from tests.test_rubrics_lint import MINIMAL
from notereader.rubrics.schema import MAX_DEPTH, MAX_FILE_BYTES, load_rubric_dir, parse_rubric, read_rubric_file

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID = MINIMAL.format(id="money")  # the smallest rubric that passes lint, shared with test_rubrics_lint


def only_problems(path: Path, text: str) -> list[Problem]:
    rubric, problems = parse_rubric(path, text)
    assert (rubric is None) == bool(problems)
    for p in problems:
        assert isinstance(p, Problem) and p.file == str(path) and p.message
        assert p.line is None or p.line >= 1
    return problems


def test_billion_laughs_is_refused_at_the_first_anchor_in_little_memory(tmp_path):
    lines = ['lol0: &lol0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"lol{i}: &lol{i} [" + ",".join([f"*lol{i - 1}"] * 10) + "]" for i in range(1, 12)]
    bomb = tmp_path / "money.yaml"
    bomb.write_text(VALID + "\n".join(lines) + "\n", encoding="utf-8")
    tracemalloc.start()
    try:
        _rs, problems = load_rubric_dir(tmp_path)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(problems) == 1 and "anchor" in problems[0].message
    assert problems[0].line == VALID.count("\n") + 1 and problems[0].file == str(bomb)
    assert peak < 20 * 1024 * 1024  # 10**12 "lol"s expanded would be terabytes


def test_an_alias_without_an_anchor_is_still_an_error(tmp_path):
    problems = only_problems(tmp_path / "money.yaml", VALID.replace("phrases: [test phrase]", "phrases: *nowhere"))
    assert problems and problems[0].line == 9


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_a_problem_not_a_recursion_error(tmp_path, opener, closer):
    depth = 50_000
    text = VALID.replace("phrases: [test phrase]", "phrases: " + opener * depth + "x" + closer * depth)
    assert len(text.encode()) < MAX_FILE_BYTES * 2
    problems = only_problems(tmp_path / "money.yaml", text)
    assert any(f"more than {MAX_DEPTH} levels" in p.message and p.line == 9 for p in problems), problems


def test_deep_block_nesting_is_a_problem(tmp_path):
    text = "id: money\nlook_for:\n" + "".join("  " * (i + 1) + "-\n" for i in range(5_000))
    problems = only_problems(tmp_path / "money.yaml", text)
    assert any("levels deep" in p.message for p in problems), problems


def test_a_file_over_the_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "money.yaml"
    path.write_bytes(b"look_for:\n" + b"  - [" * (MAX_FILE_BYTES // 5 + 1))
    rubric, problems = read_rubric_file(path)
    assert rubric is None and "limited to" in problems[0].message and problems[0].file == str(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_file_is_read_only_up_to_the_limit(tmp_path):
    """A symlink to /dev/zero reports size 0; reading it whole would never end."""
    link = tmp_path / "money.yaml"
    link.symlink_to("/dev/zero")
    rubric, problems = read_rubric_file(link)
    assert rubric is None and "limited to" in problems[0].message


@pytest.mark.parametrize("change,key", [
    (("version: 1", "version: [1]"), "version"),
    (("version: 1", "version: 1.5"), "version"),
    (("kind: risk", "kind: {a: b}"), "kind"),
    (("title: Test rubric", "title: 42"), "title"),
    (("title: Test rubric", "title: !!binary aGVsbG8="), "title"),
    (("title: Test rubric", "title: !!python/object:os.system x"), "title"),
    (("look_for:\n  - The client cannot pay for something important.", "look_for: 7"), "look_for"),
    (("phrases: [test phrase]", "phrases: [[nested], {a: 1}, null]"), "phrases[0]"),
    (("examples:", "examples: yes\nexamples_extra:"), "examples"),
    (("id: money", "id: null"), "id"),
    (("id: money", "? [complex, key]\n: 1\nid: money"), "(top level)"),
])
def test_wrong_types_name_the_key_and_line(tmp_path, change, key):
    problems = only_problems(tmp_path / "money.yaml", VALID.replace(*change))
    assert any(p.key.startswith(key) for p in problems), problems
    assert all(p.line is not None for p in problems if p.key.startswith(key))


@FUZZ
@given(text=st.text(max_size=400))
def test_arbitrary_text_gives_problems_not_exceptions(tmp_path, text):
    only_problems(tmp_path / "money.yaml", text)


@FUZZ
@given(data=st.data())
def test_mutated_valid_rubrics_give_problems_not_exceptions(tmp_path, data):
    """A valid rubric with characters deleted, replaced or inserted (YAML punctuation is favoured)."""
    text = VALID
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(text)))
        piece = data.draw(st.text(st.sampled_from(list(":-[]{}&*!|>'\"#%@`,? \n\t") + ["\u00e9", "\x00", "\ufeff"]),
                                  min_size=0, max_size=3))
        cut = data.draw(st.integers(0, 3))
        text = text[:i] + piece + text[i + cut:]
    only_problems(tmp_path / "money.yaml", text)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_give_problems_not_exceptions(tmp_path, raw):
    path = tmp_path / "money.yaml"
    path.write_bytes(raw)
    rubric, problems = read_rubric_file(path)
    assert rubric is None and problems and all(p.file == str(path) for p in problems)


# --- patterns cannot hang a worker --------------------------------------------------------------------------------

EVIL = "(a+)+$"


def test_a_phrase_that_would_hang_a_backtracking_engine_is_matched_literally(tmp_path, nlp, context_rules):
    """``(a+)+$`` against ``'a' * 40 + 'b'`` takes a backtracking regex engine ~2**40 steps.

    Rubric phrases go into a spaCy PhraseMatcher (token sequences, linear
    time), so the same text as a phrase is just six literal characters.
    """
    from notereader.pipeline.matcher import RubricIndex
    from notereader.rubrics.schema import load_rubrics

    rubric_dir = tmp_path / "r"
    rubric_dir.mkdir()
    (rubric_dir / "money.yaml").write_text(VALID.replace("phrases: [test phrase]", f"phrases: ['{EVIL}', 'a+b']"),
                                           encoding="utf-8")
    ruleset = load_rubrics(rubric_dir)
    vectors = {s: np.ones(4) for r in ruleset.rubrics for s in r.look_for}
    index = RubricIndex(nlp, context_rules, ruleset, vectors, classifiers=None)  # type: ignore[arg-type]
    hostile = nlp.make_doc(("a" * 40 + "b ") * 500 + "then " + EVIL + " appears literally, and a+b too")
    matches = [hostile[s:e].text for _key, s, e in index.phrases(hostile)]
    assert matches == [EVIL, "a+b"]
