"""``notereader worker``: an RQ worker that loads the pipeline and model once, before any job.

It is a ``SimpleWorker`` (jobs run in the worker process itself, not a forked
child), so the loaded Reader serves every job; each job's result carries the
worker's ``load_id``, and ``notereader_pipeline_loads`` counts loads, which
is how tests prove no job reloads. RQ's maintenance pass is extended with the
sweeper, which re-enqueues note revisions that have no analysis.
"""

from __future__ import annotations

import logging

from rq import SimpleWorker

from notereader.service import jobs
from notereader.service.runtime import Runtime

log = logging.getLogger("notereader.worker")


class NotereaderWorker(SimpleWorker):
    notereader: jobs.WorkerContext

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        ctx = self.notereader
        try:
            with ctx.runtime.sessions() as session:
                ctx.runtime.sweep(session, ctx.reader.ruleset.sha256)
        except Exception:  # the sweep is best effort; the next pass tries again
            log.exception("sweep failed")


def run_worker(runtime: Runtime, *, burst: bool = False, name: str | None = None) -> bool:
    ctx = jobs.WorkerContext.load(runtime)
    jobs.install(ctx)
    s = runtime.settings
    # An idle RQ worker blocks on Redis for (worker_ttl - 15) s between maintenance
    # passes, so worker_ttl is what makes the sweep (and abandoned-job recovery) periodic.
    worker = NotereaderWorker([runtime.queue, runtime.webhook_queue], connection=runtime.redis, name=name,
                              maintenance_interval=s.sweep_interval_seconds, worker_ttl=s.sweep_interval_seconds + 15)
    worker.notereader = ctx
    return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
