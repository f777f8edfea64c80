"""Rubric schema, lock and lint: every problem reported at once, with location."""

from __future__ import annotations

from pathlib import Path

import pytest

from notereader.cli import main
from notereader.rubrics.lint import lint
from notereader.rubrics.lock import write_lock
from notereader.rubrics.schema import load_rubric_dir, load_rubrics

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = """\
id: {id}
version: 1
kind: risk
title: Test rubric
severity: medium
description: A rubric for tests.
look_for:
  - The client cannot pay for something important.
phrases: [test phrase]
examples:
  flag: [a, b, c, d, e, f]
  no_flag: [g, h, i, j, k, l]
"""


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


def test_starter_library_is_clean():
    problems = lint(ROOT / "rubrics")
    assert problems == [], "\n".join(map(str, problems))


def test_starter_library_covers_the_taxonomy():
    rs = load_rubrics(ROOT / "rubrics")
    risks = {r.id for r in rs.rubrics if r.kind == "risk"}
    themes = {r.id for r in rs.rubrics if r.kind == "theme"}
    assert len(risks) == 13 and len(themes) == 15
    for r in rs.rubrics:
        assert len(r.examples_flag) >= 6 and len(r.examples_no_flag) >= 6, r.id


def test_minimal_rubric_loads(tmp_path):
    write(tmp_path, "money.yaml", MINIMAL.format(id="money"))
    rs, problems = load_rubric_dir(tmp_path)
    assert problems == [] and rs.rubrics[0].id == "money"
    assert rs.rubrics[0].not_when  # risks default to every suppressing context


def test_every_problem_reported_at_once_with_line_and_key(tmp_path):
    bad = (MINIMAL.format(id="money")
           .replace("look_for:\n  - The client cannot pay for something important.\n", "look_for: []\n")
           .replace("severity: medium\n", "severity: medium\nthreshold: 1.5\ncolour: red\n")
           .replace("  no_flag: [g, h, i, j, k, l]\n", ""))
    write(tmp_path, "money.yaml", bad)
    _rs, problems = load_rubric_dir(tmp_path)
    text = "\n".join(map(str, problems))
    assert "[colour]" in text and "unknown key" in text
    assert "[threshold]" in text and "between 0 and 1" in text
    assert "[look_for]" in text and "at least 1" in text
    assert "[examples.no_flag]" in text and "required" in text
    colour = next(p for p in problems if p.key == "colour")
    assert colour.line == 7 and colour.file.endswith("money.yaml")


def test_duplicate_ids_and_wrong_file_name(tmp_path):
    write(tmp_path, "a_one.yaml", MINIMAL.format(id="a_one"))
    write(tmp_path, "b_two.yaml", MINIMAL.format(id="a_one"))
    _rs, problems = load_rubric_dir(tmp_path)
    assert any("file is named b_two.yaml" in p.message for p in problems)


def test_aliases_are_refused(tmp_path):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n'
    write(tmp_path, "bomb.yaml", bomb)
    _rs, problems = load_rubric_dir(tmp_path)
    assert len(problems) == 1 and "anchors" in problems[0].message


def test_wrong_types_are_named(tmp_path):
    text = MINIMAL.format(id="money").replace("version: 1", "version: one").replace("phrases: [test phrase]", "phrases: {a: 1}")
    write(tmp_path, "money.yaml", text)
    _rs, problems = load_rubric_dir(tmp_path)
    keys = {p.key for p in problems}
    assert {"version", "phrases"} <= keys


def test_content_change_without_version_bump_fails_lint(tmp_path):
    write(tmp_path, "money.yaml", MINIMAL.format(id="money"))
    write_lock(load_rubrics(tmp_path), tmp_path)
    assert lint(tmp_path) == []
    p = tmp_path / "money.yaml"
    p.write_text(p.read_text().replace("something important", "something urgent"))
    problems = lint(tmp_path)
    assert len(problems) == 1 and "content changed but version is still 1" in problems[0].message
    p.write_text(p.read_text().replace("version: 1", "version: 2"))
    assert "run `notereader rubrics lock`" in str(lint(tmp_path)[0])
    write_lock(load_rubrics(tmp_path), tmp_path)
    assert lint(tmp_path) == []


def test_comments_and_layout_do_not_count_as_content(tmp_path):
    write(tmp_path, "money.yaml", MINIMAL.format(id="money"))
    write_lock(load_rubrics(tmp_path), tmp_path)
    p = tmp_path / "money.yaml"
    p.write_text("# analyst note\n" + p.read_text())
    assert lint(tmp_path) == []


def test_cli_lint_exit_codes(tmp_path, capsys):
    write(tmp_path, "money.yaml", MINIMAL.format(id="money"))
    assert main(["rubrics", "lint", "--rubrics", str(tmp_path)]) == 1  # no lock yet
    assert "rubrics.lock" in capsys.readouterr().out
    assert main(["rubrics", "lock", "--rubrics", str(tmp_path)]) == 0
    assert main(["rubrics", "lint", "--rubrics", str(tmp_path)]) == 0


@pytest.mark.parametrize("payload", ["", "just text", "- a\n- b\n", "id: [unclosed\n", "\x00\x01"])
def test_garbage_gets_a_clear_error(tmp_path, payload):
    write(tmp_path, "junk.yaml", payload)
    _rs, problems = load_rubric_dir(tmp_path)
    assert problems and all(p.file.endswith("junk.yaml") for p in problems)


def test_huge_file_is_refused_without_parsing(tmp_path):
    write(tmp_path, "huge.yaml", "look_for:\n" + "  - x\n" * 200_000)
    _rs, problems = load_rubric_dir(tmp_path)
    assert "limited to" in problems[0].message


def test_implied_by_must_name_a_risk_and_is_for_themes_only(tmp_path):
    write(tmp_path, "money.yaml", MINIMAL.format(id="money"))
    theme = (MINIMAL.format(id="budget").replace("kind: risk", "kind: theme").replace("severity: medium\n", "")
             + "implied_by: [money, no_such_risk]\n")
    write(tmp_path, "budget.yaml", theme)
    write(tmp_path, "cash.yaml", MINIMAL.format(id="cash") + "implied_by: [money]\n")
    _rs, problems = load_rubric_dir(tmp_path)
    text = "\n".join(map(str, problems))
    assert "budget.yaml [implied_by[1]]: names 'no_such_risk'" in text
    assert "cash.yaml:13 [implied_by]: is for themes only" in text


def test_known_failures_must_name_an_example_and_say_why(tmp_path):
    write(tmp_path, "money.yaml", MINIMAL.format(id="money") + (
        "known_failures:\n"
        "  no_flag[5]: The context stage reads this one the other way.\n"
        "  no_flag[6]: There is no seventh no_flag example.\n"
        "  maybe[0]: Not an example list.\n"
        "  flag[1]: ''\n"))
    _rs, problems = load_rubric_dir(tmp_path)
    found = {(p.line, p.key, p.message) for p in problems}
    assert found == {
        (15, "known_failures.no_flag[6]", "names no example: examples.no_flag has 6 (counted from 0)"),
        (16, "known_failures.maybe[0]", "must name an example as flag[N] or no_flag[N]"),
        (17, "known_failures.flag[1]", "must not be empty"),
    }


def test_known_failures_change_no_result_and_need_no_version_bump(tmp_path):
    write(tmp_path, "money.yaml", MINIMAL.format(id="money"))
    before = load_rubrics(tmp_path)
    write(tmp_path, "money.yaml", MINIMAL.format(id="money") + "known_failures:\n  flag[0]: Too short to read.\n")
    after = load_rubrics(tmp_path)
    assert after.rubrics[0].known_failures == (("flag[0]", "Too short to read."),)
    assert after.sha256 == before.sha256 and after.provenance() == before.provenance()
