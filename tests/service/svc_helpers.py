"""Helpers shared by the service tests (importable, unlike conftest.py)."""

from __future__ import annotations

import time
from typing import Any, Callable

SECRET = "test-signing-secret-0123456789"


def wait_for(predicate: Callable[[], Any], timeout: float = 60, interval: float = 0.2, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")



def pipeline_loads(service: Any) -> int:
    from notereader.service import metrics

    return metrics.counter(service.runtime.redis, "pipeline_loads")


def fresh_postgres_database(prefix: str = "notereader_extra") -> tuple[str, Callable[[], None]]:
    """A new, empty PostgreSQL database beside the service fixture's; returns its URL and a function that drops it."""
    import os
    import uuid

    import psycopg

    admin_url = os.environ.get("NOTEREADER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return f"{admin_url.rsplit('/', 1)[0]}/{name}", drop
