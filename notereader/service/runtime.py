"""Runtime: the connections one process of the service needs, built from Settings.

The API and the worker each build one ``Runtime`` at start: the database
engine and session factory, the Redis connection and the RQ queues, and the
active rubric set and model manifest (read from files, cheap; only the worker
loads the model itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from redis import Redis
from rq import Queue
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from notereader.paths import models_dir, rubrics_dir
from notereader.pipeline.embedder import ModelManifest, model_name
from notereader.rubrics.schema import RubricSet, load_rubrics
from notereader.settings import Settings
from notereader.store.db import make_engine, make_sessionmaker, read_only

if TYPE_CHECKING:
    from notereader.service.ingest_batch import IngestWriter
    from notereader.service.token_cache import PrincipalCache


@dataclass
class Runtime:
    settings: Settings
    redis_url: str
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)
    reads: sessionmaker[Session] = field(init=False)  # for work that only reads: no write lock on SQLite
    app_state: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.reads = read_only(self.engine)

    @cached_property
    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url, socket_connect_timeout=5, socket_timeout=30)

    @cached_property
    def principals(self) -> PrincipalCache:
        """This process's cache of accepted tokens (``service/token_cache.py``)."""
        from notereader.service.token_cache import PrincipalCache

        return PrincipalCache(self.reads, self.settings.token_pepper, self.settings.token_cache_seconds)

    @cached_property
    def ingest_writer(self) -> IngestWriter:
        """This process's group-commit writer for posted notes (``service/ingest_batch.py``)."""
        from notereader.service.ingest_batch import Accepted, IngestWriter
        from notereader.service.queueing import enqueue_new_revisions

        def queue_new(stored: list[Accepted]) -> None:
            enqueue_new_revisions(self.queue, [a.revision_id for a in stored if a.created], self.ruleset.sha256,
                                  self.settings.analysis_retry_intervals,
                                  timeout=self.settings.analysis_job_timeout_seconds)

        return IngestWriter(self.sessions, max_batch=self.settings.ingest_batch_max, after_commit=queue_new)

    @cached_property
    def queue(self) -> Queue:
        return Queue(self.settings.queue_name, connection=self.redis)

    @cached_property
    def webhook_queue(self) -> Queue:
        return Queue(self.settings.webhook_queue_name, connection=self.redis)

    @cached_property
    def ruleset(self) -> RubricSet:
        return load_rubrics(rubrics_dir(self.settings.rubrics_dir))

    @cached_property
    def model_manifest(self) -> ModelManifest:
        return ModelManifest.read(model_name(self.settings.model), models_dir(self.settings.models_dir))

    def enqueue_analysis(self, revision_id: int, ruleset_sha: str, **kw: Any) -> bool:
        from notereader.service.queueing import enqueue_analysis

        return enqueue_analysis(self.queue, revision_id, ruleset_sha, self.settings.analysis_retry_intervals,
                                timeout=self.settings.analysis_job_timeout_seconds, **kw)

    def sweep(self, session: Session, ruleset_sha: str) -> int:
        from notereader.service.queueing import sweep

        return sweep(session, self.queue, ruleset_sha, self.settings.analysis_retry_intervals,
                     timeout=self.settings.analysis_job_timeout_seconds)

    def enqueue_delivery(self, delivery_id: int, *, again: int | None = None) -> None:
        """Queue a write-back with the configured backoff; ``again`` (the attempts so far) for a redelivery."""
        from notereader.service.queueing import FAILURE_TTL, retry_policy

        intervals = self.settings.webhook_retry_intervals
        suffix = "" if again is None else f"-again-{again}"
        self.webhook_queue.enqueue("notereader.service.jobs.deliver_webhook", delivery_id,
                                   job_id=f"webhook-{delivery_id}{suffix}",
                                   retry=retry_policy(intervals), failure_ttl=FAILURE_TTL,
                                   description=f"write-back delivery {delivery_id}{' (again)' if suffix else ''}")

    def close(self) -> None:
        self.engine.dispose()
        if "redis" in self.__dict__:
            self.redis.close()
