"""Bad input to the API: specific errors naming the field, and nothing stored or queued."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from notereader.store.models import Note, NoteRevision

pytestmark = pytest.mark.service

GOOD = {"note_id": "input-1", "client_id": "client-input", "team": "housing", "written_at": "2026-11-20T10:00:00Z",
        "text": "Client attended the appointment."}


def _counts(service) -> tuple[int, int, int]:
    with service.runtime.sessions() as s:
        return (s.scalar(select(func.count()).select_from(Note)), s.scalar(select(func.count()).select_from(NoteRevision)),
                service.runtime.queue.count + service.runtime.queue.started_job_registry.count)


@pytest.mark.parametrize("change, field", [
    ({"text": ""}, "text"),
    ({"text": " \n\t "}, "text"),
    ({"note_id": None}, "note_id"),
    ({"written_at": "20/11/2026"}, "written_at"),
    ({"written_at": "2026-11-20T10:00:00"}, "written_at"),  # no timezone
    ({"team": "no-such-team"}, "team"),
    ({"text": "x" * (200 * 1024 + 1)}, "text"),
    ({"plan": {"goals": [{"goal_id": "g", "text": "a"}, {"goal_id": "g", "text": "b"}]}}, "plan"),
    ({"colour": "blue"}, "colour"),
])
def test_schema_errors_name_the_field(service, change, field):
    before = _counts(service)
    body = {**GOOD, **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = service.client.post("/v1/notes", json=body, headers=service.headers("acme"))
    assert r.status_code == 422, r.text
    fields = [d["field"] for d in r.json()["detail"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert "x" * 100 not in r.text  # the submitted text is not echoed back
    assert _counts(service) == before


def test_every_bad_field_is_reported_at_once(service):
    r = service.client.post("/v1/notes", json={"note_id": "", "client_id": "c", "team": "nope", "written_at": "soon",
                                               "text": "  "}, headers=service.headers("acme"))
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["detail"]} >= {"note_id", "team", "written_at", "text"}


def test_broken_json_is_400(service):
    before = _counts(service)
    r = service.client.post("/v1/notes", content=b'{"note_id": "x", "text": ', headers={
        **service.headers("acme"), "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["detail"][0]["type"] == "json_invalid"
    assert _counts(service) == before


def test_wrong_content_type_is_415(service):
    before = _counts(service)
    r = service.client.post("/v1/notes", content=json.dumps(GOOD).encode(), headers={
        **service.headers("acme"), "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]
    assert _counts(service) == before


def test_body_over_the_limit_is_413(service):
    before = _counts(service)
    limit = service.runtime.settings.max_body_bytes
    r = service.client.post("/v1/notes", content=b"{" + b" " * limit + b"}", headers={
        **service.headers("acme"), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert str(limit) in r.json()["detail"]
    assert _counts(service) == before


def test_chunked_body_over_the_limit_is_413(service):
    limit = service.runtime.settings.max_body_bytes

    def chunks():
        yield b'{"text": "'
        for _ in range(limit // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    r = service.client.post("/v1/notes", content=chunks(), headers={
        **service.headers("acme"), "Content-Type": "application/json"})
    assert r.status_code == 413


def test_review_dismiss_needs_a_reason(service):
    r = service.client.post("/v1/flags/999999/review", json={"action": "dismiss"}, headers=service.headers("sup_housing"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["message"].startswith("reason is required")


def test_unknown_review_action_names_the_field(service):
    r = service.client.post("/v1/flags/1/review", json={"action": "delete", "reason": "x"}, headers=service.headers("sup_housing"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "action"


def test_the_same_note_posted_concurrently_is_stored_once(service):
    from concurrent.futures import ThreadPoolExecutor

    body = GOOD | {"note_id": f"concurrent-{service.backend}", "client_id": f"cc-{service.backend}"}
    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(lambda _: service.client.post("/v1/notes", json=body,
                                                                  headers=service.headers("acme")).status_code, range(20)))
    assert statuses == [200] * 19 + [202]
    with service.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(NoteRevision).where(NoteRevision.note_id == body["note_id"])) == 1


def test_database_down_is_503_with_retry_after(service):
    from fastapi.testclient import TestClient

    from notereader.api.app import create_app
    from notereader.service.runtime import Runtime
    from notereader.settings import Settings

    values = service.settings_values | {"database_url": "postgresql://postgres@127.0.0.1:1/nowhere"}
    rt = Runtime(Settings(**values), service.runtime.redis_url)
    with TestClient(create_app(rt)) as client:
        r = client.post("/v1/notes", json=GOOD, headers=service.headers("acme"))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "nothing was stored" in r.json()["detail"]
