"""Write-back deliveries that gave up (dead letters), for admins: list them and send them again."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from notereader.api.deps import Admin, RuntimeDep, SessionDep
from notereader.api.schemas import RowId
from notereader.api.visibility import not_found
from notereader.service import audit
from notereader.store.models import WebhookDelivery

router = APIRouter(prefix="/v1/webhooks", tags=["write-back"])


@router.get("/dead-letters")
def dead_letters(principal: Admin, session: SessionDep,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Deliveries that failed on every attempt, newest first."""
    rows = session.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "dead")
                           .order_by(WebhookDelivery.id.desc()).limit(limit)).all()
    return {"items": [{"delivery_id": d.id, "note_id": d.note_id, "analysis_id": d.analysis_id, "case_system": d.source,
                       "url": d.url, "attempts": d.attempts, "last_error": d.last_error, "created_at": d.created_at,
                       "gave_up_at": d.finished_at} for d in rows]}


@router.post("/dead-letters/{delivery_id}/redeliver", status_code=202)
def redeliver(delivery_id: RowId, principal: Admin, session: SessionDep, rt: RuntimeDep) -> Any:
    """Put a dead delivery back on the write-back queue with a fresh set of retries."""
    d = session.get(WebhookDelivery, delivery_id)
    if d is None or d.status != "dead":
        return not_found("dead delivery", str(delivery_id))
    d.status, d.finished_at = "pending", None
    audit.append(session, actor=principal.actor, role=principal.role, action="webhook.redeliver",
                 target=f"delivery:{delivery_id}")
    session.flush()
    rt.enqueue_delivery(delivery_id, again=d.attempts)
    return {"delivery_id": delivery_id, "status": "pending"}
