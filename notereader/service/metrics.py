"""Service metrics kept in Redis, so every API and worker process on every machine adds to one set.

``GET /metrics`` renders them in the Prometheus text format, with the queue
depths read live from RQ.
"""

from __future__ import annotations

import logging
from typing import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger("notereader.metrics")
KEY = "notereader:metrics"
LATENCY_KEY = "notereader:metrics:analysis_seconds"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
COUNTERS = {
    "notes_received": "note revisions accepted by POST /v1/notes",
    "notes_analysed": "analyses written to the store",
    "analysis_failures": "analysis job attempts that raised",
    "pipeline_loads": "times a worker loaded the pipeline and model (once per worker process)",
    "webhooks_delivered": "write-backs the case system accepted",
    "webhook_failures": "write-back attempts that failed",
    "webhooks_dead": "write-backs that gave up after every retry",
    "requests_refused": "API calls refused (401, 403, 404 for another team's record)",
    "requests_rate_limited": "API calls refused with 429 because their token went over its rate limit",
}


def incr(redis: Redis, name: str, amount: int = 1) -> None:
    """Add to a counter. Best effort: with Redis down the count is lost, never the request that made it.

    (A note committed while Redis was down used to be answered 500 because of
    this counter; the client retried a note that was already stored.)
    """
    assert name in COUNTERS, name  # nosec B101 # catches a misspelt counter name in tests; no security decision rests on it
    try:
        redis.hincrby(KEY, name, amount)
    except RedisError as exc:
        log.warning("metric %s not counted: Redis unavailable (%s)", name, type(exc).__name__)


def observe_latency(redis: Redis, seconds: float) -> None:
    try:
        with redis.pipeline() as p:
            for b in BUCKETS:
                if seconds <= b:
                    p.hincrby(LATENCY_KEY, f"le_{b}", 1)
            p.hincrby(LATENCY_KEY, "count", 1)
            p.hincrbyfloat(LATENCY_KEY, "sum", seconds)
            p.execute()
    except RedisError as exc:
        log.warning("analysis latency not recorded: Redis unavailable (%s)", type(exc).__name__)


def counter(redis: Redis, name: str) -> int:
    return int(redis.hget(KEY, name) or 0)


class RedisCollector(Collector):
    def __init__(self, redis: Redis, queues: dict[str, object]) -> None:
        self.redis = redis
        self.queues = queues

    def collect(self) -> Iterable[object]:
        values = {k.decode(): v for k, v in self.redis.hgetall(KEY).items()}
        for name, doc in COUNTERS.items():
            c = CounterMetricFamily(f"notereader_{name}", doc)
            c.add_metric([], float(values.get(name, 0)))
            yield c
        lat = {k.decode(): v for k, v in self.redis.hgetall(LATENCY_KEY).items()}
        buckets = [(str(b), float(lat.get(f"le_{b}", 0))) for b in BUCKETS]
        count = float(lat.get("count", 0))
        buckets.append(("+Inf", count))
        h = HistogramMetricFamily("notereader_analysis_seconds", "time to analyse one note revision (worker side)")
        h.add_metric([], buckets, float(lat.get("sum", 0)))
        yield h
        depth = GaugeMetricFamily("notereader_queue_depth", "jobs waiting in each RQ queue", labels=["queue"])
        failed = GaugeMetricFamily("notereader_queue_failed", "jobs that gave up, per RQ queue", labels=["queue"])
        for name, q in self.queues.items():
            depth.add_metric([name], float(q.count))  # type: ignore[attr-defined]
            failed.add_metric([name], float(q.failed_job_registry.count))  # type: ignore[attr-defined]
        yield depth
        yield failed
