"""Operations: liveness, readiness (Redis, database, model hashes) and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text

from notereader.api.deps import RuntimeDep
from notereader.errors import NotereaderError
from notereader.service.metrics import RedisCollector
from notereader.store.db import check_schema

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is not ready; checks say which"}})
def readyz(rt: RuntimeDep) -> Any:
    """Ready to take notes: Redis answers, the database is reachable and migrated, and the model files match their hashes."""
    checks: dict[str, str] = {}
    try:
        rt.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    try:
        with rt.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        check_schema(rt.engine)
        checks["database"] = "ok"
    except NotereaderError as exc:
        checks["database"] = exc.message
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        verified = rt.app_state.get("model_verified")
        if verified != rt.model_manifest.sha256:
            rt.model_manifest.verify()
            rt.app_state["model_verified"] = rt.model_manifest.sha256
        checks["model"] = "ok"
    except NotereaderError as exc:
        checks["model"] = exc.message
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks,
            "model_sha256": rt.model_manifest.sha256, "ruleset_sha256": rt.ruleset.sha256}
    return JSONResponse(status_code=200 if ready else 503, content=body)


@router.get("/metrics", response_class=Response)
def metrics(rt: RuntimeDep) -> Response:
    """Prometheus metrics: notes received and analysed, queue depth, analysis latency, failures."""
    registry = CollectorRegistry()
    registry.register(RedisCollector(rt.redis, {rt.settings.queue_name: rt.queue,
                                                rt.settings.webhook_queue_name: rt.webhook_queue}))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
