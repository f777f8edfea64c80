"""Security of the API: token expiry and revocation, the per-token rate limit, CORS, response headers.

Each runs on SQLite and PostgreSQL through the ``service`` fixture. Apps
built here with other settings (CORS origins, a small rate limit) share the
fixture's database and Redis, like extra API processes would.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, update

from notereader.api.app import create_app
from notereader.service.ratelimit import WINDOW_SECONDS
from notereader.service.runtime import Runtime
from notereader.settings import Settings
from notereader.store.db import current_revision, head_revision, make_engine, upgrade
from notereader.store.models import ApiToken, AuditRecord
from notereader.store.types import utcnow
from svc_helpers import fresh_postgres_database

pytestmark = pytest.mark.service


def _other_app(service, **settings: object) -> tuple[TestClient, Runtime]:
    """Another API process over the same database and Redis, with some settings changed."""
    rt = Runtime(Settings(**{**service.settings_values, **settings}), service.runtime.redis_url)
    return TestClient(create_app(rt)), rt


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- tokens: expiry and revocation -------------------------------------------------------------------------------

def test_an_expired_token_is_401_with_a_clear_message_and_audited(service):
    r = service.client.post("/v1/tokens", json={"role": "auditor", "name": "expiring", "expires_in_days": 1},
                            headers=service.headers("admin"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["expires_at"] is not None
    token, tid = body["token"], body["token_id"]
    # A day passes before its first use: move the expiry into the past, as the clock would.
    with service.runtime.sessions() as s, s.begin():
        s.execute(update(ApiToken).where(ApiToken.id == tid).values(expires_at=utcnow() - timedelta(seconds=1)))
    r = service.client.get("/v1/audit?limit=1", headers=_bearer(token))
    assert r.status_code == 401
    assert "expired" in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
    with service.runtime.sessions() as s:
        rec = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()
    assert rec.outcome == "refused:401" and "expired" in rec.detail["reason"]


def test_a_token_that_expires_while_its_lookup_is_cached_is_refused_on_time(service):
    """The token cache keeps the row's expiry and checks it against the clock on every call."""
    r = service.client.post("/v1/tokens", json={"role": "auditor", "name": "brief", "expires_in_days": 3 / 86400},
                            headers=service.headers("admin"))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert service.client.get("/v1/audit?limit=1", headers=_bearer(token)).status_code == 200  # now cached
    assert service.client.get("/v1/audit?limit=1", headers=_bearer(token)).status_code == 200
    time.sleep(3.5)
    r = service.client.get("/v1/audit?limit=1", headers=_bearer(token))
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_a_revocation_is_seen_at_once_by_another_api_process(service):
    """Each API process caches accepted tokens; revoking through one process ends the token on all of them."""
    other, other_rt = _other_app(service)
    try:
        r = service.client.post("/v1/tokens", json={"role": "auditor", "name": "shared"}, headers=service.headers("admin"))
        token, tid = r.json()["token"], r.json()["token_id"]
        for _ in range(2):  # the second call is served from the other process's cache
            assert other.get("/v1/audit?limit=1", headers=_bearer(token)).status_code == 200
        assert service.client.delete(f"/v1/tokens/{tid}", headers=service.headers("admin")).status_code == 204
        r = other.get("/v1/audit?limit=1", headers=_bearer(token))
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
    finally:
        other_rt.close()


def test_a_token_revoked_in_the_database_directly_is_refused_within_the_cache_lifetime(service):
    """A revocation that bypasses the API announces nothing; NOTEREADER_TOKEN_CACHE_SECONDS bounds it."""
    other, other_rt = _other_app(service, token_cache_seconds=1)
    uncached, uncached_rt = _other_app(service, token_cache_seconds=0)
    try:
        token = service.token("auditor", "edited-away")
        assert other.get("/v1/audit?limit=1", headers=_bearer(token)).status_code == 200
        with service.runtime.sessions() as s, s.begin():
            s.execute(update(ApiToken).where(ApiToken.name == "edited-away").values(revoked_at=utcnow()))
        assert uncached.get("/v1/audit?limit=1", headers=_bearer(token)).status_code == 401  # no cache: at once
        time.sleep(1.2)
        assert other.get("/v1/audit?limit=1", headers=_bearer(token)).status_code == 401
    finally:
        other_rt.close()
        uncached_rt.close()


def test_a_token_without_expiry_never_expires(service):
    r = service.client.post("/v1/tokens", json={"role": "auditor", "name": "forever"}, headers=service.headers("admin"))
    assert r.status_code == 201 and r.json()["expires_at"] is None


@pytest.mark.parametrize("days", [0, -1, 3651, "soon"])
def test_token_expiry_must_be_a_sensible_number_of_days(service, days):
    r = service.client.post("/v1/tokens", json={"role": "auditor", "name": "bad", "expires_in_days": days},
                            headers=service.headers("admin"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "expires_in_days"


def test_cli_creates_an_expiring_token(service):
    proc = subprocess.run([sys.executable, "-m", "notereader", "tokens", "create", "--role", "analyst", "--name",
                           "cli-expiring", "--expires-in-days", "7"], env=service.env(), capture_output=True,
                          text=True, check=True)
    assert "expires 20" in proc.stderr
    token = proc.stdout.strip().splitlines()[-1]
    with service.runtime.sessions() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.name == "cli-expiring")).one()
    left = row.expires_at - utcnow()
    assert timedelta(days=6) < left <= timedelta(days=7)
    assert service.client.get("/v1/jobs/no-such-job", headers=_bearer(token)).status_code == 404  # past auth


def test_a_revoked_token_says_so(service):
    r = service.client.post("/v1/tokens", json={"role": "auditor", "name": "to-revoke"}, headers=service.headers("admin"))
    token, tid = r.json()["token"], r.json()["token_id"]
    assert service.client.delete(f"/v1/tokens/{tid}", headers=service.headers("admin")).status_code == 204
    r = service.client.get("/v1/audit?limit=1", headers=_bearer(token))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_migration_0002_adds_and_removes_token_expiry(service, tmp_path):
    """`db upgrade` applies 0002 on an 0001 store with tokens in it; downgrade takes it back out."""
    from alembic import command

    from notereader.store.db import alembic_config

    if service.backend == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'm.db'}", None
    else:
        url, drop = fresh_postgres_database("notereader_mig")
    try:
        upgrade(url, "0001")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO api_tokens (name, role, teams, token_hash, created_at) "
                                 "VALUES ('old', 'auditor', '[]', 'h', CURRENT_TIMESTAMP)")
        assert "expires_at" not in {c["name"] for c in inspect(engine).get_columns("api_tokens")}
        env = {**service.env(), "NOTEREADER_DATABASE_URL": url}
        proc = subprocess.run([sys.executable, "-m", "notereader", "db", "upgrade"], env=env, capture_output=True,
                              text=True, check=True)
        assert head_revision() == "0002" and "revision 0002" in proc.stdout
        engine.dispose()
        assert current_revision(engine) == "0002"
        assert "expires_at" in {c["name"] for c in inspect(engine).get_columns("api_tokens")}
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT name, expires_at FROM api_tokens").all() == [("old", None)]
        command.downgrade(alembic_config(url), "0001")
        engine.dispose()
        assert "expires_at" not in {c["name"] for c in inspect(engine).get_columns("api_tokens")}
        engine.dispose()
    finally:
        if drop:
            drop()


# --- rate limit --------------------------------------------------------------------------------------------------

def _not_at_a_window_edge() -> None:
    """Start a count at least 10 s before the minute's window rolls over, so all calls land in one window."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < 10:
        time.sleep(left + 0.1)


def test_rate_limit_is_per_token_shared_across_api_processes_and_answered_429(service):
    limit = 4
    a, rt_a = _other_app(service, rate_limit_per_minute=limit)
    b, rt_b = _other_app(service, rate_limit_per_minute=limit)
    try:
        token = service.token("auditor", f"rl-{uuid.uuid4().hex[:6]}")
        other = service.token("auditor", f"rl-other-{uuid.uuid4().hex[:6]}")
        _not_at_a_window_edge()
        # Calls alternate between two API processes: the count is in Redis, so they add up.
        codes = [(a if i % 2 else b).get("/v1/audit?limit=1", headers=_bearer(token)).status_code for i in range(limit)]
        assert codes == [200] * limit
        r = a.get("/v1/audit?limit=1", headers=_bearer(token))
        assert r.status_code == 429
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= WINDOW_SECONDS
        assert "retry after" in r.json()["detail"]
        assert b.get("/v1/audit?limit=1", headers=_bearer(token)).status_code == 429
        # Another token has its own count.
        assert b.get("/v1/audit?limit=1", headers=_bearer(other)).status_code == 200
    finally:
        for client, rt in ((a, rt_a), (b, rt_b)):
            client.close()
            rt.close()


def test_default_rate_limit_is_generous_and_zero_turns_it_off():
    assert Settings().rate_limit_per_minute >= 1000
    from notereader.service.ratelimit import check

    assert check(None, 1, 0).allowed  # type: ignore[arg-type]  # off: Redis is not even asked


# --- CORS and security headers ------------------------------------------------------------------------------------

def test_cors_is_off_by_default(service):
    origin = {"Origin": "https://evil.example"}
    r = service.client.get("/v1/audit?limit=1", headers={**service.headers("auditor"), **origin})
    assert r.status_code == 200
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]
    pre = service.client.options("/v1/notes", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_only_the_configured_origins(service):
    client, rt = _other_app(service, cors_allow_origins=["https://cms.agency.example"])
    try:
        ok = client.get("/v1/audit?limit=1", headers={**service.headers("auditor"), "Origin": "https://cms.agency.example"})
        assert ok.headers["access-control-allow-origin"] == "https://cms.agency.example"
        bad = client.get("/v1/audit?limit=1", headers={**service.headers("auditor"), "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in bad.headers
    finally:
        client.close()
        rt.close()


def test_cors_wildcard_is_refused_outside_development():
    with pytest.raises(ValueError, match="CORS_ALLOW_ORIGINS"):
        Settings(environment="production", redis_url="redis://r:6379/0", signing_secret="s" * 32,
                 token_pepper="p" * 32, cors_allow_origins=["*"])


def _assert_hardened(r) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_security_headers_on_note_text_and_on_refusals(service):
    resp, body = service.post_note()
    assert resp.status_code in (201, 202), resp.text
    note = service.client.get(f"/v1/notes/{body['note_id']}", headers=service.headers("acme"))
    assert note.status_code == 200 and note.json()["text"] == body["text"]
    _assert_hardened(note)
    assert note.headers["cache-control"] == "no-store"
    assert note.headers["content-security-policy"].startswith("default-src 'none'")
    for refused in (service.client.get(f"/v1/notes/{body['note_id']}"),  # 401
                    service.client.post("/v1/notes", content=b"x", headers={**service.headers("acme"),
                                                                               "Content-Type": "text/plain"})):  # 415
        assert refused.status_code in (401, 415)
        _assert_hardened(refused)
        assert refused.headers["cache-control"] == "no-store"
    docs = service.client.get("/docs")
    _assert_hardened(docs)
    assert "default-src" not in docs.headers["content-security-policy"]  # the docs page loads its scripts


# --- values the store cannot hold ---------------------------------------------------------------------------------

def test_nul_characters_are_refused_the_same_on_every_backend(service):
    resp, body = service.post_note(text="Client called.\x00 She is fine.")
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "text"
    assert service.client.get(f"/v1/notes/{body['note_id']}", headers=service.headers("acme")).status_code == 404
    r = service.client.get("/v1/notes/abc%00def", headers=service.headers("acme"))
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "nul_character"
    r = service.client.post("/v1/tokens", json={"role": "auditor", "name": "nul\x00name"}, headers=service.headers("admin"))
    if service.backend == "postgresql":  # PostgreSQL cannot store it: a 422 naming why, not a 500
        assert r.status_code == 422 and "NUL" in r.json()["detail"][0]["message"]
    else:  # SQLite can, and a token's name is not read by anything that minds
        assert r.status_code == 201


def test_ids_beyond_32_bits_are_422_not_a_database_error(service):
    for path in ("/v1/flags/2147483648", "/v1/flags/99999999999999999999999"):
        r = service.client.get(path, headers=service.headers("sup_housing"))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "flag_id"


def test_a_body_that_is_not_utf8_is_400_naming_the_body(service):
    """Found by the fuzzer: FastAPI's own 400 had a different shape from every other input error."""
    r = service.client.post("/v1/tokens", content=b'{"name": "\xff\xfe"}', headers={**service.headers("admin"),
                                                                                  "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["detail"][0]["field"] == "body" and r.json()["detail"][0]["type"] == "json_invalid"
