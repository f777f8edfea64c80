"""``notereader worker``: an RQ worker that loads the pipeline and model once, before any job.

It is a ``SimpleWorker`` (jobs run in the worker process itself, not a forked
child), so the loaded Reader serves every job; each job's result carries the
worker's ``load_id``, and ``notereader_pipeline_loads`` counts loads, which
is how tests prove no job reloads. RQ's maintenance pass is extended with the
sweeper, which re-enqueues note revisions that have no analysis.

Losing Redis does not end the process: RQ's own loop quits on a connection
error, so ``run_worker`` waits for Redis to answer again and starts a new RQ
worker on the same loaded pipeline (its sweeper then queues whatever Redis
forgot). Only a stop request (SIGTERM/SIGINT) or a finished burst ends it.
"""

from __future__ import annotations

import logging
import signal
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.exceptions import StopRequested

from notereader.service import jobs
from notereader.service.runtime import Runtime

log = logging.getLogger("notereader.worker")
MAX_BACKOFF_SECONDS = 30.0


class NotereaderWorker(SimpleWorker):
    notereader: jobs.WorkerContext
    stop_asked: bool = False

    def request_stop(self, signum, frame):  # type: ignore[no-untyped-def]
        """SIGTERM/SIGINT: remembered, because RQ stops an idle worker without setting its own flag."""
        self.stop_asked = True
        super().request_stop(signum, frame)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        ctx = self.notereader
        try:
            with ctx.runtime.sessions() as session:
                ctx.runtime.sweep(session, ctx.reader.ruleset.sha256)
        except StopRequested:
            raise  # SIGTERM during the sweep: RQ's loop must see it, or the worker never stops
        except Exception:  # the sweep is best effort; the next pass tries again
            log.exception("sweep failed")


def _wait_for_redis(redis: Redis, first_delay: float) -> None:
    """Block until Redis answers PING, backing off up to MAX_BACKOFF_SECONDS between tries."""
    delay, waited = first_delay, 0.0
    while True:
        time.sleep(delay)
        waited += delay
        try:
            redis.ping()
            return
        except RedisError as exc:
            log.warning("Redis still unavailable after %.0f s (%s); the pipeline stays loaded, trying again",
                        waited, type(exc).__name__)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)


def run_worker(runtime: Runtime, *, burst: bool = False, name: str | None = None) -> bool:
    ctx = jobs.WorkerContext.load(runtime)
    jobs.install(ctx)
    s = runtime.settings
    worked, generation, delay = False, 0, 1.0
    while True:
        # An idle RQ worker blocks on Redis for (worker_ttl - 15) s between maintenance
        # passes, so worker_ttl is what makes the sweep (and abandoned-job recovery) periodic.
        # A restarted RQ worker gets a new name: the old one may still be registered until its TTL lapses.
        worker = NotereaderWorker([runtime.queue, runtime.webhook_queue], connection=runtime.redis,
                                  name=f"{name}-{generation}" if name and generation else name,
                                  maintenance_interval=s.sweep_interval_seconds, worker_ttl=s.sweep_interval_seconds + 15)
        worker.notereader = ctx
        started = time.monotonic()
        try:
            worked = worker.work(burst=burst, with_scheduler=True, logging_level="INFO") or worked
            if burst or worker.stop_asked:
                return worked
            # Not a burst and no stop request: RQ's loop quit on an error it logged (Redis went away, say).
            reason = "RQ's worker loop quit on an error"
        except RedisError as exc:
            reason = f"lost Redis ({type(exc).__name__})"
        # RQ's signal handlers point at the worker that just ended; nothing runs now, so a stop ends the process.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, MAX_BACKOFF_SECONDS)
        log.warning("%s; starting a new RQ worker on the loaded pipeline once Redis answers", reason)
        _wait_for_redis(runtime.redis, delay)
        generation += 1
