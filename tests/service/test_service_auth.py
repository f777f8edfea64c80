"""Who may do what: 401 without a token, 403 for the wrong role, 404 for another team's record; all audited."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from notereader.store.models import ApiToken, AuditRecord

pytestmark = pytest.mark.service


def _last_audit(service) -> AuditRecord:
    with service.runtime.sessions() as s:
        return s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).one()


def test_no_token_is_401_and_audited(service):
    r = service.client.get("/v1/risk-queue")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    rec = _last_audit(service)
    assert (rec.actor, rec.outcome, rec.action) == ("anonymous", "refused:401", "GET /v1/risk-queue")


def test_unknown_token_is_401(service):
    r = service.client.get("/v1/risk-queue", headers={"Authorization": "Bearer nr_not-a-real-token"})
    assert r.status_code == 401


@pytest.mark.parametrize("who, method, path", [
    ("acme", "GET", "/v1/risk-queue"),
    ("sup_housing", "POST", "/v1/rescore"),
    ("analyst", "GET", "/v1/audit"),
    ("auditor", "POST", "/v1/tokens"),
    ("sup_housing", "POST", "/v1/notes"),
])
def test_wrong_role_is_403_and_audited(service, who, method, path):
    r = service.client.request(method, path, json={}, headers=service.headers(who))
    assert r.status_code == 403, r.text
    rec = _last_audit(service)
    assert rec.outcome == "refused:403" and rec.role is not None


def test_another_case_systems_note_is_404_and_audited(service):
    r, body = service.post_note()
    assert r.status_code == 202
    for path in (f"/v1/notes/{body['note_id']}", f"/v1/notes/{body['note_id']}/analysis"):
        r = service.client.get(path, headers=service.headers("other_cms"))
        assert r.status_code == 404
        assert r.json() == {"detail": f"no note {body['note_id']!r}"}  # exactly what an unknown note gets
    with service.runtime.sessions() as s:
        refused = s.scalars(select(AuditRecord).where(AuditRecord.target == f"note:{body['note_id']}",
                                                      AuditRecord.outcome == "refused:404")).all()
    assert len(refused) == 2


def test_another_case_system_cannot_overwrite_a_note(service):
    r, body = service.post_note()
    r2, _ = service.post_note(who="other_cms", note_id=body["note_id"], client_id=body["client_id"], text="replaced")
    assert r2.status_code == 404
    note = service.client.get(f"/v1/notes/{body['note_id']}", headers=service.headers("acme")).json()
    assert note["text"] == body["text"] and note["revision"] == 1


def test_tokens_create_prints_the_token_last_and_stores_only_a_hash(service):
    proc = subprocess.run([sys.executable, "-m", "notereader", "tokens", "create", "--role", "supervisor",
                           "--team", "family", "--name", "cli-sup"], env=service.env(), capture_output=True, text=True,
                          check=True)
    token = proc.stdout.strip().splitlines()[-1]
    assert token.startswith("nr_") and len(token) > 40
    with service.runtime.sessions() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.name == "cli-sup")).one()
        stored = [str(v) for v in (row.token_hash, row.name, row.role, row.teams)]
    assert all(token not in v for v in stored)
    r = service.client.get("/v1/risk-queue", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_supervisor_token_needs_a_team(service):
    proc = subprocess.run([sys.executable, "-m", "notereader", "tokens", "create", "--role", "supervisor"],
                          env=service.env(), capture_output=True, text=True)
    assert proc.returncode == 2 and "needs at least one --team" in proc.stderr


def test_admin_creates_and_revokes_tokens(service):
    r = service.client.post("/v1/tokens", json={"role": "auditor", "name": "temp"}, headers=service.headers("admin"))
    assert r.status_code == 201
    token, tid = r.json()["token"], r.json()["token_id"]
    auth = {"Authorization": f"Bearer {token}"}
    assert service.client.get("/v1/audit?limit=1", headers=auth).status_code == 200
    assert service.client.delete(f"/v1/tokens/{tid}", headers=service.headers("admin")).status_code == 204
    assert service.client.get("/v1/audit?limit=1", headers=auth).status_code == 401
