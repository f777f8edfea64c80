"""Write-back to the case system: signed, retried with backoff, in order, dead letters kept."""

from __future__ import annotations

import json
import time

import pytest
from rq.job import Job
from sqlalchemy import select

from notereader.service.webhooks import SIGNATURE_HEADER, sign, verify_signature
from notereader.store.models import WebhookDelivery

from svc_helpers import SECRET, wait_for

pytestmark = pytest.mark.service


def test_signature_detects_tampering_and_replay():
    body = b'{"a":1}'
    header = sign(SECRET, body, int(time.time()))
    assert verify_signature(SECRET, body, header)
    assert not verify_signature(SECRET, b'{"a":2}', header)
    assert not verify_signature("another-secret-xxxxxxxx", body, header)
    assert not verify_signature(SECRET, body, header, now=time.time() + 3600)  # a replay an hour later
    assert not verify_signature(SECRET, body, "garbage")


def test_each_analysis_is_posted_signed(service):
    r, body = service.post_note()
    analysis = service.analysis(body["note_id"]).json()
    got = wait_for(lambda: service.receiver.for_note(body["note_id"]), 30, what="the write-back")
    req = got[0]
    assert verify_signature(SECRET, req["body"], req["headers"][SIGNATURE_HEADER])
    assert req["json"]["analysis"] == analysis and req["json"]["event"] == "analysis.completed"


def test_failed_deliveries_are_retried_with_backoff(service):
    note_id = f"retry-{service.backend}"
    service.receiver.failures_left[note_id] = 2
    service.post_note(note_id=note_id)
    wait_for(lambda: any(x["status"] == 200 for x in service.receiver.for_note(note_id)), 60, what="a successful retry")
    attempts = service.receiver.for_note(note_id)
    assert [a["status"] for a in attempts] == [503, 503, 200]
    assert all(verify_signature(SECRET, a["body"], a["headers"][SIGNATURE_HEADER]) for a in attempts)

    def delivered():
        with service.runtime.sessions() as s:
            d = s.scalars(select(WebhookDelivery).where(WebhookDelivery.note_id == note_id)).one()
        return d if d.status == "delivered" else None
    d = wait_for(delivered, 10, what="the delivery to be recorded")
    assert d.attempts == 3
    job = Job.fetch(f"webhook-{d.id}", connection=service.runtime.redis)
    assert job.retry_intervals == service.runtime.settings.webhook_retry_intervals  # the backoff schedule RQ followed


def test_a_delivery_that_never_succeeds_stays_listed_as_dead(service):
    note_id = f"dead-{service.backend}"
    service.receiver.failures_left[note_id] = -1  # always fail
    service.post_note(note_id=note_id)

    def dead():
        with service.runtime.sessions() as s:
            return s.scalars(select(WebhookDelivery).where(WebhookDelivery.note_id == note_id,
                                                           WebhookDelivery.status == "dead")).first()
    d = wait_for(dead, 60, what="the delivery to give up")
    assert d.attempts == 3 and "503" in d.last_error
    assert service.runtime.webhook_queue.failed_job_registry.count >= 1
    listed = service.client.get("/v1/webhooks/dead-letters", headers=service.headers("admin")).json()
    assert any(x["delivery_id"] == d.id for x in listed["items"])
    # the receiver is fixed; an admin sends the dead delivery again
    service.receiver.failures_left[note_id] = 0
    r = service.client.post(f"/v1/webhooks/dead-letters/{d.id}/redeliver", headers=service.headers("admin"))
    assert r.status_code == 202

    def delivered():
        with service.runtime.sessions() as s:
            return s.get(WebhookDelivery, d.id).status == "delivered"
    wait_for(delivered, 30, what="the redelivery")
    assert service.receiver.for_note(note_id)[-1]["status"] == 200


def test_an_older_result_never_reaches_the_case_record_after_a_newer_one(service):
    note_id = f"order-{service.backend}"
    service.receiver.failures_left[note_id] = 1  # the first revision's write-back fails once
    r1, body = service.post_note(note_id=note_id)
    service.analysis(note_id)
    service.client.post("/v1/notes", json=body | {"text": body["text"] + " Second visit."}, headers=service.headers("acme"))
    wait_for(lambda: len([x for x in service.receiver.for_note(note_id) if x["status"] == 200]) >= 1, 60,
             what="a delivered write-back")
    time.sleep(4)  # let any retry of the first revision's delivery run
    delivered = [x["json"]["revision"] for x in service.receiver.for_note(note_id) if x["status"] == 200]
    assert delivered == sorted(delivered) and delivered[-1] == 2
    assert json.dumps(delivered)
