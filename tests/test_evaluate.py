"""``notereader eval``: the figures it computes, and the gold it refuses (invented notes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notereader.cli import main
from notereader.errors import InputError
from notereader.evaluate import read_corpus, score

ROOT = Path(__file__).resolve().parent.parent
TEXT = "Cl got an eviction notice Monday. She denies SI. Her sister was arrested. Rent paid for May."


def _note(**gold):
    return {"note_id": "n1", "text": TEXT, "plan": {"goals": [{"goal_id": "G1", "text": "Pay rent on time"}]},
            "gold": {"risks": [], "decoys": [], "themes": [], "goals": [], **gold}}


def _write(tmp_path, *objs) -> Path:
    p = tmp_path / "corpus.jsonl"
    p.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return p


def _cite(quote: str) -> dict:
    i = TEXT.index(quote)
    return {"start": i, "end": i + len(quote), "paragraph": 0, "quote": quote}


def test_the_figures_of_one_hand_scored_note(tmp_path):
    corpus = read_corpus(_write(tmp_path, _note(
        risks=[{"rubric": "housing_loss", "evidence": "Cl got an eviction notice Monday."}],
        decoys=[{"rubric": "legal_jeopardy", "evidence": "Her sister was arrested.", "why": "other_person"},
                {"rubric": "self_harm", "evidence": "She denies SI.", "why": "negated"}],
        themes=["housing", "legal"],
        goals=[{"goal_id": "G1", "direction": "progress", "evidence": "Rent paid for May."}])))
    analysis = {
        "risks": [{"rubric_id": "housing_loss", "citations": [_cite("Cl got an eviction notice Monday."),
                                                               _cite("Rent paid for May.")]},
                  {"rubric_id": "legal_jeopardy", "citations": [_cite("Her sister was arrested.")]}],
        "themes": [{"rubric_id": "housing", "citations": []}],
        "goals": [{"goal_id": "G1", "direction": "setback", "citations": [_cite("Rent paid for May.")]}],
        "suppressed": [],
    }
    r = score(corpus, [analysis])
    assert r["risk_micro"] == {"precision": 0.5, "recall": 1.0, "f1": 0.667, "tp": 1, "fp": 1, "fn": 0}
    assert r["citation_hit_rate"] == 1.0
    assert r["citation_focus"] == {"clauses_per_risk": 2.0, "share_on_evidence": 0.5}
    assert r["decoy_trip_rate"] == 0.5 and r["decoy_trip_by_why"] == {"negated": "0/1", "other_person": "1/1"}
    assert r["theme_micro"]["tp"] == 1 and r["theme_micro"]["fn"] == 1
    assert r["goal_direction_accuracy"] == 0.0
    assert r["goal_evidence"] == {"found": 1, "on_evidence": 1.0, "direction_on_evidence": 0.0,
                                  "direction_elsewhere": None}
    assert r["goal_confusion"]["progress"] == {"progress": 0, "setback": 1, "mentioned": 0, "none": 0}
    assert r["quote_integrity"] == 1.0


def test_goal_evidence_tells_a_wrong_clause_from_a_wrong_reading(tmp_path):
    goals = [{"goal_id": "G1", "text": "Pay rent on time"}, {"goal_id": "G2", "text": "Keep housing"},
             {"goal_id": "G3", "text": "Stay out of court"}]
    note = {**_note(goals=[{"goal_id": "G1", "direction": "progress", "evidence": "Rent paid for May."},
                           {"goal_id": "G2", "direction": "setback", "evidence": "Cl got an eviction notice Monday."},
                           {"goal_id": "G3", "direction": "mentioned", "evidence": "Her sister was arrested."}]),
            "plan": {"goals": goals}}
    corpus = read_corpus(_write(tmp_path, note))
    analysis = {"risks": [], "themes": [], "suppressed": [], "goals": [
        # right clause, right direction
        {"goal_id": "G1", "direction": "progress", "citations": [_cite("Rent paid for May.")]},
        # another clause, and the direction happens to be right
        {"goal_id": "G2", "direction": "setback", "citations": [_cite("She denies SI.")]},
        # G3 is not found: it counts against direction accuracy, not in the goal evidence figures
    ]}
    r = score(corpus, [analysis], keep_errors=True)
    assert r["goal_direction_accuracy"] == round(2 / 3, 3)
    assert r["goal_evidence"] == {"found": 2, "on_evidence": 0.5, "direction_on_evidence": 1.0,
                                  "direction_elsewhere": 1.0}
    [miss] = [e for e in r["errors"] if e["kind"] == "goal"]
    assert miss["goal_id"] == "G3" and miss["got"] is None and miss["on_evidence"] is False
    assert r["goal_confusion"] == {
        "progress": {"progress": 1, "setback": 0, "mentioned": 0, "none": 0},
        "setback": {"progress": 0, "setback": 1, "mentioned": 0, "none": 0},
        "mentioned": {"progress": 0, "setback": 0, "mentioned": 0, "none": 1},
    }


def test_gold_that_cannot_be_scored_is_refused_naming_each_key(tmp_path):
    path = _write(tmp_path, _note(), _note(
        risks=[{"rubric": "housing_loss", "evidence": "Cl got an eviction notice on Monday."}],
        decoys=[{"rubric": "self_harm", "evidence": "She denies SI.", "why": "denied"}],
        goals=[{"goal_id": "G7", "direction": "forward", "evidence": "Rent paid for May."}]))
    with pytest.raises(InputError) as e:
        read_corpus(path)
    found = {(p.line, p.key) for p in e.value.problems}
    assert found == {(2, "gold.risks[0].evidence"), (2, "gold.decoys[0].why"),
                     (2, "gold.goals[0].goal_id"), (2, "gold.goals[0].direction")}


def test_the_cli_names_the_file_and_line_and_scores_nothing(tmp_path, capsys):
    path = _write(tmp_path, _note(risks=[{"rubric": "housing_loss", "evidence": "not in the note"}]))
    assert main(["eval", str(path)]) == 2
    captured = capsys.readouterr()
    assert f"{path}:1 [gold.risks[0].evidence]" in captured.err
    assert "risk micro" not in captured.out


@pytest.mark.parametrize("corpus", ["eval/heldout_notes.jsonl", "eval/heldout2_notes.jsonl", "eval/tuning_notes.jsonl", "eval/tuning2_notes.jsonl", "eval/tuning3_notes.jsonl",
                                    "notereader/data/sample_notes.jsonl"])
def test_the_projects_own_annotated_notes_read_cleanly(corpus):
    assert len(read_corpus(ROOT / corpus)) >= 12
