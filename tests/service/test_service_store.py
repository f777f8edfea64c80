"""The store: migrations, the hash-chained audit log, and settings that refuse unsafe values."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, select, update

from notereader.service import audit
from notereader.settings import DEV_SIGNING_SECRET, Settings
from notereader.store.db import check_schema, current_revision, head_revision, make_engine, upgrade
from notereader.store.models import AuditRecord

pytestmark = pytest.mark.service


def test_settings_refuse_development_secrets_outside_development(monkeypatch):
    monkeypatch.delenv("NOTEREADER_SIGNING_SECRET", raising=False)
    with pytest.raises(ValidationError) as err:
        Settings(environment="production", redis_url="redis://r:6379/0", token_pepper="")
    text = str(err.value)
    assert "NOTEREADER_SIGNING_SECRET" in text and "NOTEREADER_TOKEN_PEPPER" in text
    ok = Settings(environment="production", redis_url="redis://r:6379/0", signing_secret="s" * 32, token_pepper="p" * 32)
    assert ok.signing_secret == "s" * 32
    assert Settings().signing_secret == DEV_SIGNING_SECRET  # development runs on the defaults


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("NOTEREADER_TEAMS", "north, south")
    monkeypatch.setenv("NOTEREADER_WEBHOOKS", '{"cms": "http://cms.local/hook"}')
    monkeypatch.setenv("NOTEREADER_DATABASE_URL", "postgresql://db/notereader")
    s = Settings()
    assert s.teams == ["north", "south"] and s.webhooks == {"cms": "http://cms.local/hook"}
    assert s.database_url == "postgresql://db/notereader"


def test_cli_refuses_unsafe_settings_with_a_clear_message(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "NOTEREADER_ENVIRONMENT": "production", "NOTEREADER_REDIS_URL": "redis://x:1/0",
           "NOTEREADER_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    proc = subprocess.run([sys.executable, "-m", "notereader", "db", "upgrade"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "NOTEREADER_SIGNING_SECRET" in proc.stderr and "Traceback" not in proc.stderr


def test_a_database_behind_the_code_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    engine = make_engine(url)
    with pytest.raises(Exception, match="notereader db upgrade"):
        check_schema(engine)
    upgrade(url)
    assert current_revision(engine) == head_revision()
    check_schema(engine)


def _verify_cli(service) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "notereader", "audit", "verify"], env=service.env(),
                          capture_output=True, text=True)


@pytest.fixture()
def chain(service):
    """Three fresh audit records; each tampering test breaks one, then puts it back exactly."""
    with service.runtime.sessions() as s, s.begin():
        recs = [audit.append(s, actor="test", role="auditor", action="test.event", target=f"t:{i}", detail={"i": i})
                for i in range(3)]
        seqs = [r.seq for r in recs]
    return seqs


def _snapshot(service, seq):
    with service.runtime.sessions() as s:
        r = s.get(AuditRecord, seq)
        return {c.name: getattr(r, c.name) for c in AuditRecord.__table__.columns}


def test_audit_verify_detects_an_edited_record(service, chain):
    assert _verify_cli(service).returncode == 0
    seq = chain[1]
    with service.runtime.sessions() as s, s.begin():
        s.execute(update(AuditRecord).where(AuditRecord.seq == seq).values(actor="someone-else"))
    proc = _verify_cli(service)
    assert proc.returncode == 1 and f"record {seq}:" in proc.stdout and "edited" in proc.stdout
    with service.runtime.sessions() as s, s.begin():
        s.execute(update(AuditRecord).where(AuditRecord.seq == seq).values(actor="test"))
    assert _verify_cli(service).returncode == 0


def _verify_reports_deletion(service, seq: int, message: str) -> None:
    """Delete audit record ``seq``: `audit verify` fails saying ``message``; put it back: it passes again."""
    saved = _snapshot(service, seq)
    with service.runtime.sessions() as s, s.begin():
        s.execute(delete(AuditRecord).where(AuditRecord.seq == seq))
    proc = _verify_cli(service)
    assert proc.returncode == 1 and message in proc.stdout
    with service.runtime.sessions() as s, s.begin():
        s.add(AuditRecord(**saved))
    assert _verify_cli(service).returncode == 0


def test_audit_verify_detects_a_deleted_record(service, chain):
    seq = chain[1]
    _verify_reports_deletion(service, seq, "deleted")


def test_audit_verify_detects_a_deleted_tail(service, chain):
    seq = chain[2]
    with service.runtime.sessions() as s:
        last = s.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1))
    if last != seq:
        pytest.skip("another process appended after the fixture's records")
    _verify_reports_deletion(service, seq, "newest records were deleted")
