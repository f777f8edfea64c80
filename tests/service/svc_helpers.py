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
