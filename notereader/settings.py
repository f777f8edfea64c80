"""The service's settings: one pydantic-settings object, read from NOTEREADER_* variables.

With nothing configured the service runs for development: a SQLite file in
the working directory, a private redis-server child process, and well-known
development secrets. Outside development (``NOTEREADER_ENVIRONMENT`` is
``production`` or ``staging``) the settings refuse those development secrets,
because a default signing secret lets anyone forge write-backs and an empty
token pepper makes a stolen database's token hashes cheap to reverse.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SIGNING_SECRET = "development-signing-secret-change-me"  # nosec B105 # development default; refused outside development (_refuse_unsafe)
DEV_TOKEN_PEPPER = "development-token-pepper"  # nosec B105 # development default; refused outside development (_refuse_unsafe)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTEREADER_", extra="ignore")

    environment: Literal["development", "test", "staging", "production"] = "development"
    database_url: str = Field("sqlite:///./notereader.db", description="SQLAlchemy URL; SQLite file by default, PostgreSQL in production")
    redis_url: str | None = Field(None, description="Redis URL; unset in development starts a private redis-server child process")
    signing_secret: str = Field(DEV_SIGNING_SECRET, description="HMAC key for the X-Notereader-Signature of write-backs")
    token_pepper: str = Field(DEV_TOKEN_PEPPER, description="secret mixed into every API token hash")
    teams: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["housing", "family", "reentry", "recovery", "adult-protective"],
        description="the teams notes may belong to (comma-separated or a JSON list)")
    webhooks: dict[str, str] = Field(default_factory=dict,
                                     description="case system name -> write-back URL, as JSON")
    webhook_retry_intervals: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [10, 30, 90, 270, 810],
        description="seconds between write-back attempts (exponential backoff); its length is the number of retries")
    webhook_timeout_seconds: float = 10.0
    analysis_retry_intervals: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [5, 30, 120])
    analysis_job_timeout_seconds: int = Field(600, gt=0, description="an analysis job running longer is stopped and retried")
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="largest accepted request body")
    ingest_batch_max: int = Field(
        64, ge=1, le=1000, description="most notes one API process stores in one transaction: posts that arrive "
                                       "together share a commit and one audit-chain lock (1: every note on its own)")
    rate_limit_per_minute: int = Field(
        6000, ge=0, description="calls one API token may make per minute (counted in Redis across API processes); "
                                "over it the API answers 429 with Retry-After. 0 turns the limit off")
    token_cache_seconds: float = Field(
        30.0, ge=0, le=3600, description="how long an API process may reuse an accepted token's lookup; a revocation "
                                         "through the API is seen at once by every process (a counter in Redis), this "
                                         "bounds only revocations made by editing the database. 0 turns the cache off")
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="browser origins allowed to call the API cross-origin (comma-separated or "
                                          "a JSON list); empty, the default, sends no CORS headers at all")
    queue_name: str = "notereader"
    webhook_queue_name: str = "notereader-webhooks"
    sweep_interval_seconds: int = Field(300, gt=0, description="how often a worker re-enqueues unanalysed note revisions")
    rubrics_dir: str | None = None
    models_dir: str | None = None
    model: str | None = Field(None, description="pinned model name under models/ (default all-MiniLM-L6-v2-int8-exact, "
                              "the same on every CPU); changing it changes results and starts a new analysis generation")
    encoder_threads: int | None = Field(None, ge=1, le=64, description="CPU threads per worker for the sentence "
                                        "encoder (results do not depend on it); default: the runtime's choice")

    @field_validator("teams", "cors_allow_origins", mode="before")
    @classmethod
    def _split_teams(cls, v: object) -> object:
        if isinstance(v, str):
            v = json.loads(v) if v.strip().startswith("[") else [t.strip() for t in v.split(",") if t.strip()]
        return v

    @field_validator("webhook_retry_intervals", "analysis_retry_intervals", mode="before")
    @classmethod
    def _split_ints(cls, v: object) -> object:
        if isinstance(v, str):
            v = json.loads(v) if v.strip().startswith("[") else [int(t) for t in v.split(",") if t.strip()]
        return v

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> "Settings":
        if self.environment in ("development", "test"):
            return self
        problems = []
        if self.signing_secret == DEV_SIGNING_SECRET or len(self.signing_secret) < 16:
            problems.append("NOTEREADER_SIGNING_SECRET is the development default or shorter than 16 characters; "
                            "anyone could forge write-backs. Set a long random secret.")
        if not self.token_pepper or self.token_pepper == DEV_TOKEN_PEPPER:
            problems.append("NOTEREADER_TOKEN_PEPPER is empty or the development default; token hashes would be "
                            "cheap to reverse from a copied database. Set a long random pepper.")
        if "*" in self.cors_allow_origins:
            problems.append("NOTEREADER_CORS_ALLOW_ORIGINS contains '*'; any web page could then read case notes "
                            "through a user's browser. List the exact origins instead.")
        if self.redis_url is None:
            problems.append("NOTEREADER_REDIS_URL is unset; outside development the service does not start its own Redis.")
        if problems:
            raise ValueError(f"unsafe settings for environment {self.environment!r}: " + " ".join(problems))
        return self

    @property
    def is_development(self) -> bool:
        return self.environment in ("development", "test")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
