"""Write-back: POST each analysis to the case system's webhook, signed.

The signature header is ``X-Notereader-Signature: t=<unix seconds>,v1=<hex>``
where ``v1 = HMAC-SHA256(secret, "<t>." + body)``. A receiver recomputes it,
rejects a mismatch, and rejects a ``t`` older than its tolerance, which makes
a replayed request detectable. ``X-Notereader-Delivery`` names the delivery.

Ordering: a delivery is not sent when a newer analysis of the same note has
already been delivered, so the case record never goes back to an older
result ("superseded").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notereader.store.models import Analysis, WebhookDelivery
from notereader.store.types import utcnow

SIGNATURE_HEADER = "X-Notereader-Signature"
DELIVERY_HEADER = "X-Notereader-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, now: float | None = None,
                     tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """What a receiver does: check the MAC and that the timestamp is recent."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
        expected = sign(secret, body, ts).split("v1=", 1)[1]
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    return hmac.compare_digest(expected, parts.get("v1", "")) and abs(current - ts) <= tolerance


def payload(delivery: WebhookDelivery, analysis: Analysis) -> bytes:
    body: dict[str, Any] = {
        "event": "analysis.completed",
        "delivery_id": delivery.id,
        "note_id": delivery.note_id,
        "revision": analysis.revision.revision,
        "analysis_id": analysis.id,
        "analysis": json.loads(analysis.body),
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _superseded(session: Session, d: WebhookDelivery) -> bool:
    newer = session.scalar(select(WebhookDelivery.id).where(
        WebhookDelivery.note_id == d.note_id, WebhookDelivery.analysis_id > d.analysis_id,
        WebhookDelivery.status == "delivered").limit(1))
    return newer is not None


class DeliveryFailed(Exception):
    pass


def deliver(factory: sessionmaker[Session], delivery_id: int, secret: str, timeout: float, final_attempt: bool) -> str:
    """One attempt; returns the delivery's status, raises DeliveryFailed so RQ retries."""
    with factory() as session, session.begin():
        d = session.get(WebhookDelivery, delivery_id)
        if d is None:
            raise LookupError(f"webhook delivery {delivery_id} is not in the store")
        if d.status != "pending":
            return d.status
        if _superseded(session, d):
            d.status, d.finished_at = "superseded", utcnow()
            return d.status
        body = payload(d, session.get_one(Analysis, d.analysis_id))
        url = d.url
    error: str | None = None
    try:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, int(time.time())),
                   DELIVERY_HEADER: str(delivery_id)}
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
        if response.status_code >= 300:
            error = f"receiver answered HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    with factory() as session, session.begin():
        d = session.get_one(WebhookDelivery, delivery_id)
        d.attempts += 1
        if error is None:
            d.status, d.finished_at, d.last_error = "delivered", utcnow(), None
            return d.status
        d.last_error = error
        if final_attempt:
            d.status, d.finished_at = "dead", utcnow()
    raise DeliveryFailed(f"delivery {delivery_id} to {url}: {error}")
