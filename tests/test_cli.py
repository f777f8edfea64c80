"""The command line: help texts, bad input named by file/line/key, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from notereader.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "notereader", *args], capture_output=True, text=True)


def test_python_m_and_help_describe_every_command():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("analyze", "context", "eval", "eval-goals", "eval-context", "demo", "rubrics"):
        assert cmd in r.stdout
    r = run("rubrics", "--help")
    for action in ("lint", "test", "lock", "calibrate"):
        assert action in r.stdout


def test_bad_jsonl_is_refused_whole_with_locations(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b'{"note_id": "a", "text": "Cl paid rent."}\n'
        b'{"note_id": "b", "text": ""}\n'
        b'not json\n'
        b'{"note_id": "d", "text": "ok", "plan": {"goals": [{"goal_id": "G1"}]}}\n'
        b'{"note_id": "e", "text": "\xff\xfe broken utf-8"}\n'
    )
    out = tmp_path / "out.jsonl"
    assert main(["analyze", "--jsonl", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{src}:2 [text]" in err
    assert f"{src}:3" in err and "not valid JSON" in err
    assert f"{src}:4 [plan.goals[0].text]" in err
    assert f"{src}:5" in err and "UTF-8" in err
    assert not out.exists()


def test_missing_input_file(tmp_path, capsys):
    assert main(["analyze", "--jsonl", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot be read" in capsys.readouterr().err


def test_context_command(tmp_path, capsys):
    src = tmp_path / "ctx.jsonl"
    lines = [
        {"text": "Client denies suicidal ideation.", "target": "suicidal ideation"},
        {"text": "Hx of heroin use, in recovery since 2019.", "target": "heroin use"},
        {"text": "If the landlord files, she could be evicted.", "target": "evicted"},
        {"text": "Her sister was evicted last month.", "target": "evicted"},
        {"text": "The eviction was dismissed in court.", "start": 4, "end": 12},
        {"text": "PHQ-9 item 9 scored 0 today.", "target": "item 9"},
    ]
    src.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    assert main(["context", "--jsonl", str(src)]) == 0
    got = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert got[0]["negated"] and not got[0]["historical"]
    assert got[1]["historical"] and not got[1]["negated"]
    assert got[2]["hypothetical"]
    assert got[3]["other_person"]
    assert got[4]["resolved"]
    assert got[5]["screening_negative"]
    assert all(isinstance(g["cues"], list) for g in got)


def test_context_command_names_bad_lines(tmp_path, capsys):
    src = tmp_path / "ctx.jsonl"
    src.write_text('{"text": "abc", "target": "zzz"}\n{"text": "abc", "start": 2, "end": 99}\n', encoding="utf-8")
    assert main(["context", "--jsonl", str(src)]) == 2
    err = capsys.readouterr().err
    assert ":1 [target]" in err and ":2 [start/end]" in err


@pytest.mark.slow
def test_analyze_jsonl_matches_the_library(reader, tmp_path):
    src = tmp_path / "in.jsonl"
    notes = [{"note_id": "x1", "text": "Cl showed me the 3-day notice taped to her door.\r\nShe has not eaten since Sunday.",
              "plan": {"goals": [{"goal_id": "G1", "text": "Keep her apartment"}]}, "extra": "ignored"},
             {"note_id": "x2", "text": "Routine visit, all well."}]
    src.write_text("\n".join(json.dumps(n) for n in notes), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = run("analyze", "--jsonl", str(src), "--out", str(out), "--batch-size", "1")
    assert r.returncode == 0, r.stderr
    got = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    from notereader.notes import read_jsonl

    expected = list(reader.analyze_many(read_jsonl(src)))
    assert [g["fingerprint"] for g in got] == [e["fingerprint"] for e in expected]


@pytest.mark.slow
def test_text_report_highlights_the_cited_sentence(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Home visit.\nThe power company shut off the electricity on Monday and the fridge is empty.\n", encoding="utf-8")
    r = run("analyze", str(note))
    assert r.returncode == 0, r.stderr
    assert "RISKS" in r.stdout and "[[" in r.stdout and "WHY NOT FLAGGED" in r.stdout


def test_eval_context_lists_its_disagreements(tmp_path, capsys):
    tsv = tmp_path / "set.tsv"
    tsv.write_text(
        "line\tcondition\tsentence\tnegation\ttemporality\texperiencer\n"
        "1\tcough\tPatient denies COUGH.\tNegated\tRecent\tPatient\n"
        "2\tasthma\tASTHMA.\tAffirmed\tHistorical\tPatient\n",
        encoding="utf-8")
    assert main(["eval-context", str(tsv), "--json", "--errors"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["rows"] == 2 and r["negated"]["f1"] == 1.0
    assert [(e["line"], e["axis"], e["gold"]) for e in r["errors"]] == [(3, "historical", True)]


def test_eval_checks_every_corpus_before_reading_any(tmp_path, capsys):
    bad1, bad2 = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    bad1.write_text('{"note_id": "a", "text": "Rent paid."}\n', encoding="utf-8")  # no gold
    bad2.write_text('{"note_id": "b", "text": "Rent paid.", "gold": {"risks": [{"rubric": "housing_loss", '
                    '"evidence": "not in the note"}], "decoys": [], "themes": [], "goals": []}}\n', encoding="utf-8")
    assert main(["eval", str(bad1), str(bad2)]) == 2
    captured = capsys.readouterr()
    assert f"{bad1}:1 [gold]" in captured.err and f"{bad2}:1 [gold.risks[0].evidence]" in captured.err
    assert captured.out == ""


@pytest.mark.slow
def test_eval_scores_several_corpora_with_one_model(reader, tmp_path):
    from notereader.evaluate import read_corpus, score

    lines = (ROOT / "notereader" / "data" / "sample_notes.jsonl").read_text(encoding="utf-8").splitlines()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    b.write_text("\n".join(lines[3:6]) + "\n", encoding="utf-8")
    r = run("eval", str(a), str(b), "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert list(got["corpora"]) == [str(a), str(b)]
    assert got["provenance"]["engine_version"] == reader.provenance["engine_version"]
    for path in (a, b):
        corpus = read_corpus(path)
        expected = score(corpus, list(reader.analyze_many([n for n, _g in corpus])))
        assert got["corpora"][str(path)] == expected
    text = run("eval", str(a), str(b))
    assert text.returncode == 0, text.stderr
    table = text.stdout.splitlines()[-3:]
    assert table[0].split()[:3] == ["corpus", "notes", "risk"] and table[1].startswith("a.jsonl") and table[2].startswith("b.jsonl")
