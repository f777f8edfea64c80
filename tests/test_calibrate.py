"""`notereader rubrics calibrate`: proposes, and writes only when asked."""

from __future__ import annotations

import shutil
from pathlib import Path

from notereader.rubrics.calibrate import calibrate
from notereader.rubrics.lint import lint
from notereader.rubrics.lock import write_lock
from notereader.rubrics.schema import load_rubrics

ROOT = Path(__file__).resolve().parent.parent


def small_library(tmp_path: Path) -> Path:
    d = tmp_path / "rubrics"
    d.mkdir()
    for rid in ("food_insecurity", "financial_crisis"):
        shutil.copy(ROOT / "rubrics" / f"{rid}.yaml", d)
    write_lock(load_rubrics(d), d)
    return d


def test_calibrate_proposes_without_writing_then_writes_on_request(reader, tmp_path):
    d = small_library(tmp_path)
    before = {p.name: p.read_text(encoding="utf-8") for p in d.iterdir()}
    lines = calibrate(d, write=False, embedder=reader.embedder)
    assert lines[0].split()[:2] == ["rubric", "current"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:-1]}
    assert set(rows) == {"food_insecurity", "financial_crisis"}
    for row in rows.values():
        assert 0.0 < float(row[2]) < 1.0 and 0.0 <= float(row[3]) <= 1.0
    assert {p.name: p.read_text(encoding="utf-8") for p in d.iterdir()} == before
    assert "nothing written" in lines[-1]

    versions = {rid: r.version for rid, r in load_rubrics(d).by_id().items()}
    calibrate(d, write=True, embedder=reader.embedder)
    changed = load_rubrics(d).by_id()
    for rid, row in rows.items():
        if float(row[2]) != float(row[1]):
            assert changed[rid].threshold == float(row[2]) and changed[rid].version == versions[rid] + 1
    if any(float(r[2]) != float(r[1]) for r in rows.values()):
        assert any("run `notereader rubrics lock`" in str(p) for p in lint(d))
