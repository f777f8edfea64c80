"""`notereader rescore` (notereader.rescore_cli): what it stores and queues, its errors, its progress line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from notereader.errors import NotereaderError
from notereader.rescore_cli import add_parser, cmd_rescore, parse_since, progress_line

pytestmark = pytest.mark.service


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["rescore", *argv])


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from notereader.service.redis_server import PrivateRedis
    from notereader.store.db import upgrade

    redis = PrivateRedis()
    url = f"sqlite:///{tmp_path / 'rescore.db'}"
    upgrade(url)
    for key in ("RUBRICS_DIR", "MODELS_DIR"):
        monkeypatch.delenv(f"NOTEREADER_{key}", raising=False)
    monkeypatch.setenv("NOTEREADER_ENVIRONMENT", "test")
    monkeypatch.setenv("NOTEREADER_DATABASE_URL", url)
    monkeypatch.setenv("NOTEREADER_REDIS_URL", redis.url)
    try:
        yield url, redis.url
    finally:
        redis.stop()


def test_rescore_records_the_job_and_queues_it_like_the_api(store, capsys):
    from redis import Redis
    from rq import Queue
    from sqlalchemy import select

    from notereader.store.db import make_engine, make_sessionmaker
    from notereader.store.models import AuditRecord, RescoreJob

    url, redis_url = store
    assert cmd_rescore(_args("--rubric-id", "food", "--since", "2026-11-01T00:00:00Z")) == 0
    job_id = capsys.readouterr().out.strip().splitlines()[-1]
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        job = s.get(RescoreJob, job_id)
        assert job is not None and job.status == "queued" and job.rubric_ids == ["food"]
        assert job.since is not None and job.since.isoformat().startswith("2026-11-01T00:00:00")
        assert s.scalar(select(AuditRecord.action).where(AuditRecord.target == f"job:{job_id}")) == "rescore.start"
    engine.dispose()
    with Redis.from_url(redis_url) as r:
        assert Queue("notereader", connection=r).job_ids == [job_id]


def test_rescore_refuses_an_unknown_rubric_and_stores_nothing(store):
    from sqlalchemy import func, select

    from notereader.store.db import make_engine, make_sessionmaker
    from notereader.store.models import RescoreJob

    with pytest.raises(NotereaderError, match="no_such_rubric"):
        cmd_rescore(_args("--rubric-id", "no_such_rubric"))
    engine = make_engine(store[0])
    with make_sessionmaker(engine)() as s:
        assert s.scalar(select(func.count()).select_from(RescoreJob)) == 0
    engine.dispose()


def test_since_must_be_iso_with_a_timezone():
    assert parse_since("2026-11-01T00:00:00Z").utcoffset().total_seconds() == 0
    with pytest.raises(NotereaderError, match="no timezone"):
        parse_since("2026-11-01T00:00:00")
    with pytest.raises(NotereaderError, match="not an ISO 8601"):
        parse_since("yesterday")


def test_progress_line_shows_done_total_rate_and_eta():
    line = progress_line(250, 1000, 50.0, 5.0, width=10)
    assert "250/1000" in line and "25.0%" in line and "5.0 notes/s" in line and "ETA 02:30" in line
    assert "ETA --:--" in progress_line(0, 10, 1.0, None)
