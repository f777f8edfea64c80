"""Privacy: logs never carry note text (canary), and analyst exports are de-identified.

A note with a unique canary string goes through the real API and the real
worker subprocess; the API's log records (captured in-process) and every log
file of the fixture (the worker's stdout and stderr) must not contain it.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import select

from notereader.store.models import AuditRecord
from svc_helpers import wait_for

pytestmark = pytest.mark.service


def _log_files_text(service) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(service.log_dir.glob("*.log")))


def test_no_note_text_in_any_log(service, caplog):
    canary = f"zqxcanary{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)  # every logger, every level, in the API process
    text = (f"Client said her landlord {canary} served an eviction notice on Friday. "
            f"She has no food in the house; {canary} skipped meals all week.")
    resp, body = service.post_note(text=text)
    assert resp.status_code == 202, resp.text
    service.analysis(body["note_id"])
    # The write-back is sent by the worker too: wait for it, so its logging is covered.
    wait_for(lambda: any(r["status"] == 200 for r in service.receiver.for_note(body["note_id"])), 60,
             what="the write-back")
    # Refused inputs carrying the canary: a bad field beside the text, and broken JSON.
    bad = service.client.post("/v1/notes", json={**body, "note_id": f"n-{uuid.uuid4().hex[:8]}", "team": "nowhere"},
                              headers=service.headers("acme"))
    assert bad.status_code == 422 and canary not in bad.text
    broken = service.client.post("/v1/notes", content=f'{{"text": "{canary}'.encode(),
                                 headers={**service.headers("acme"), "Content-Type": "application/json"})
    assert broken.status_code == 400 and canary not in broken.text
    api_logs = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "nothing was logged at all: the capture is not working"
    assert canary not in api_logs
    files = _log_files_text(service)
    assert "analys" in files.lower(), "the worker's log holds no job lines: the wrong file was read"
    assert canary not in files
    with service.runtime.sessions() as s:
        details = [str(r.detail) for r in s.scalars(select(AuditRecord)).all()]
    assert not any(canary in d for d in details), "the audit log holds note text"


NOTE_WITH_IDENTIFIERS = (
    "Home visit with Ms. Okonkwo today. Her landlord at 42 Elm Street gave her an eviction notice and she must "
    "leave by Friday.\n"
    "She has no food in the house and skipped meals this week; call her at 555-867-5309 to arrange a food bank "
    "referral.\n"
    "Her new job offer came by email to t.okonkwo@example.org and she starts work at the warehouse on Monday.\n"
    "Her son Dario, DOB 04/12/2015, was left home alone overnight while she worked.\n")
PLANTED = {"PERSON": "Dario", "ADDRESS": "42 Elm Street", "PHONE_NUMBER": "555-867-5309",
           "EMAIL_ADDRESS": "t.okonkwo@example.org", "DATE": "04/12/2015"}


def test_analyst_export_masks_each_planted_identifier(service):
    resp, body = service.post_note(text=NOTE_WITH_IDENTIFIERS, note_id=f"n-pii-{uuid.uuid4().hex[:8]}")
    assert resp.status_code == 202, resp.text
    service.analysis(body["note_id"])
    from notereader.api.routers.exports import pseudonym

    ref = pseudonym(service.runtime.settings.token_pepper, "note", body["note_id"])
    items, after = [], 0
    while after is not None:
        r = service.client.get(f"/v1/exports/findings?limit=200&after={after}", headers=service.headers("analyst"))
        assert r.status_code == 200, r.text
        page = r.json()
        items += [i for i in page["items"] if i["note_ref"] == ref]
        after = page["next_after"]
    assert items, "the note's findings are not in the export"
    exported = r.text + "".join(str(i) for i in items)
    for kind, planted in PLANTED.items():
        assert planted not in exported, f"{kind} {planted!r} leaked into the export"
    masked = {k for i in items for c in i["citations"] for k in c["masked"]}
    assert masked >= set(PLANTED), f"not every kind was cited and masked: {masked}"
    assert body["note_id"] not in exported and body["client_id"] not in exported
    assert all(len(i["written_month"]) == 7 for i in items)
    with service.runtime.sessions() as s:
        last = s.scalars(select(AuditRecord).where(AuditRecord.action == "export.findings")
                         .order_by(AuditRecord.seq.desc()).limit(1)).one()
    assert last.role == "analyst"


@pytest.mark.parametrize("who", ["acme", "sup_housing", "auditor", "admin"])
def test_only_analysts_export(service, who):
    assert service.client.get("/v1/exports/findings", headers=service.headers(who)).status_code == 403
