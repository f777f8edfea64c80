"""The main job on built-in defaults: sample notes stored in SQLite, analysed, risk queue printed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from notereader.cli import main
from notereader.store.db import make_engine, make_sessionmaker
from notereader.service.audit import verify
from notereader.store.models import Analysis, AuditRecord, Flag, Note

pytestmark = pytest.mark.service


def test_demo_stores_and_analyses_the_samples_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for k in [k for k in __import__("os").environ if k.startswith("NOTEREADER_") and k != "NOTEREADER_CACHE_DIR"]:
        monkeypatch.delenv(k)
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert (tmp_path / "notereader.db").exists()
    assert "Risk queue" in first and "open flag(s); 12 analysis record(s)" in first
    assert main(["demo"]) == 0  # a second run stores nothing new
    assert capsys.readouterr().out == first
    sessions = make_sessionmaker(make_engine(f"sqlite:///{tmp_path}/notereader.db"))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Note)) == 12
        assert s.scalar(select(func.count()).select_from(Analysis)) == 12
        flags = s.scalar(select(func.count()).select_from(Flag))
        received = s.scalars(select(AuditRecord.target).where(AuditRecord.action == "note.received")).all()
        count, problems = verify(s)
    assert f"({flags} open flag(s)" in first
    # each note stored once is in the audit chain once, as a POST would put it, and the chain verifies
    assert len(received) == len(set(received)) == 12 and count >= 12 and not problems
