"""``notereader eval-goals``: goal direction under other goal settings, without rerunning the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notereader.cli import main
from notereader.errors import InputError
from notereader.evaluate import read_corpus, score
from notereader.evaluate_goals import DEFAULT_GRID, parse_vary, sweep
from notereader.pipeline.goals import DEFAULT_SETTINGS, TITLE_PENALTY, GoalSettings

ROOT = Path(__file__).resolve().parent.parent

# A section title names the goal's topic better than the sentence that says what happened; the title
# penalty is what makes the sentence (progress) win over the title (a mention).
TITLED = [
    {"note_id": "t1", "text": "Housing search update\nCl toured two apartments on Elm St this morning and turned in "
                              "the application for the one near her job.",
     "plan": {"goals": [{"goal_id": "G1", "text": "Find stable housing"}]},
     "gold": {"risks": [], "decoys": [], "themes": ["housing"],
              "goals": [{"goal_id": "G1", "direction": "progress",
                         "evidence": "turned in the application for the one near her job"}]}},
    {"note_id": "t2", "text": "Employment\nClient started his new job at the warehouse on Monday and worked all "
                              "five shifts this week.",
     "plan": {"goals": [{"goal_id": "G1", "text": "Get a job"}]},
     "gold": {"risks": [], "decoys": [], "themes": ["employment"],
              "goals": [{"goal_id": "G1", "direction": "progress",
                         "evidence": "Client started his new job at the warehouse on Monday"}]}},
]


def _write(path: Path, notes: list[dict]) -> Path:
    path.write_text("".join(json.dumps(n) + "\n" for n in notes), encoding="utf-8")
    return path


def test_every_default_grid_name_is_a_goal_setting():
    fields = set(GoalSettings.__dataclass_fields__)
    assert set(DEFAULT_GRID) == fields
    for name, values in DEFAULT_GRID.items():
        assert getattr(DEFAULT_SETTINGS, name) not in values, f"{name}: the present value is the baseline row already"


def test_vary_items_are_parsed_by_constant_or_field_name():
    assert parse_vary(["MARGIN=0.05,0.15", "candidates=4"]) == {"margin": (0.05, 0.15), "candidates": (4,)}
    assert parse_vary(["margin=0.05", "MARGIN=0.15,0.05"]) == {"margin": (0.05, 0.15)}
    assert isinstance(parse_vary(["LABEL_WORDS=6"])["label_words"][0], int)


def test_bad_vary_items_are_all_named_and_nothing_is_read(tmp_path, capsys):
    with pytest.raises(InputError) as err:
        parse_vary(["margin=x,-1", "nosuch=1", "theme_weight", "candidates=0", "label_words=4.5"])
    text = str(err.value)
    for expected in ("[margin=x]: is not a valid float", "[margin=-1]: must not be negative",
                     "[nosuch]: is not a goal setting; known: area_threshold", "[theme_weight]: must be NAME=V1,V2",
                     "[candidates=0]: must be at least 1", "[label_words=4.5]: is not a valid int"):
        assert expected in text
    missing = tmp_path / "missing.jsonl"
    assert main(["eval-goals", str(missing), "--vary", "nosuch=1"]) == 2
    captured = capsys.readouterr()
    assert "--vary [nosuch]: is not a goal setting" in captured.err and captured.out == ""


@pytest.mark.slow
def test_the_present_settings_score_as_eval_does(reader, tmp_path):
    lines = (ROOT / "notereader" / "data" / "sample_notes.jsonl").read_text(encoding="utf-8").splitlines()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    b.write_text("\n".join(lines[6:]) + "\n", encoding="utf-8")
    corpora = {str(p): read_corpus(p) for p in (a, b)}
    trials = sweep(reader, corpora, {"margin": (DEFAULT_SETTINGS.margin,)})
    present, same = trials
    assert present.setting is None and same.setting == "margin"
    for path, corpus in corpora.items():
        expected = score(corpus, list(reader.analyze_many([n for n, _g in corpus])))
        assert expected["goal_direction_accuracy"] == round(present.correct[path] / present.total[path], 3)
        assert present.total[path] == sum(len(g.get("goals", [])) for _n, g in corpus)
    assert same.correct == present.correct  # the present value again changes nothing


@pytest.mark.slow
def test_a_setting_that_lets_a_title_win_loses_that_goal(reader, tmp_path):
    path = _write(tmp_path / "titled.jsonl", TITLED)
    trials = sweep(reader, {str(path): read_corpus(path)}, {"title_penalty": (0.0, TITLE_PENALTY)})
    assert [(t.setting, t.value, t.correct[str(path)], t.total[str(path)]) for t in trials] == [
        (None, None, 2, 2), ("title_penalty", 0.0, 1, 2), ("title_penalty", TITLE_PENALTY, 2, 2)]


@pytest.mark.slow
def test_the_cli_prints_each_trial_against_the_present_settings(reader, tmp_path, capsys):
    path = _write(tmp_path / "titled.jsonl", TITLED)
    assert main(["eval-goals", str(path), "--vary", "TITLE_PENALTY=0", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["settings"]["title_penalty"] == TITLE_PENALTY and got["goals"] == {str(path): 2}
    assert [(t["setting"], t["value"], t["accuracy"][str(path)], t["pooled_correct"], t["pooled_change"])
            for t in got["trials"]] == [(None, None, 1.0, 2, 0), ("title_penalty", 0.0, 0.5, 1, -1)]
    assert got["provenance"]["engine_version"] == reader.provenance["engine_version"]
    assert main(["eval-goals", str(path), "--vary", "title_penalty=0"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["setting", "value", "titled", "pooled", "change"]
    assert table[1].split() == ["(present", "settings)", "1.000", "2/2", "+0"]
    assert table[2].split() == ["title_penalty", "0.0", "(now", "0.5)", "0.500", "1/2", "-1"]
