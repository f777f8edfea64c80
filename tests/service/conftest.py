"""Fixtures for the service tests: real redis-server, real SQLite and PostgreSQL, real worker processes.

Each database backend gets its own private redis-server, a migrated
database, an in-process API (FastAPI's TestClient over the real runtime), a
`notereader worker` subprocess, and a small local HTTP server standing in for
the case system's webhook receiver (the only thing outside notereader).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get("NOTEREADER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
from svc_helpers import SECRET, pipeline_loads, wait_for


@dataclass
class Receiver:
    """The case system's webhook endpoint: records every request; fails on request."""

    server: ThreadingHTTPServer
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures_left: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def for_note(self, note_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["json"].get("note_id") == note_id]


def _start_receiver() -> Receiver:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec = holder["r"]
            data = json.loads(body)
            with rec.lock:
                left = rec.failures_left.get(data.get("note_id"), 0)
                status = 503 if left else 200
                if left:
                    rec.failures_left[data["note_id"]] = left - 1 if left > 0 else left
                rec.requests.append({"headers": dict(self.headers), "body": body, "json": data, "status": status,
                                     "at": time.time()})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder["r"]


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    r = _start_receiver()
    yield r
    r.server.shutdown()


def _postgres_database() -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"notereader_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc}); the service tests run on it. "
                    "Start it, or point NOTEREADER_TEST_POSTGRES_URL at one.")
    admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return f"{base}/{name}", drop


def settings_env(values: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEREADER_")}
    for key, value in values.items():
        env[f"NOTEREADER_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


@dataclass
class Service:
    backend: str
    settings_values: dict[str, Any]
    runtime: Any
    client: Any
    tokens: dict[str, str]
    worker: subprocess.Popen[bytes] | None
    log_dir: Path
    receiver: Receiver

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def env(self, **extra: Any) -> dict[str, str]:
        return settings_env({**self.settings_values, **extra})

    def token(self, role: str, name: str, teams: list[str] = ()) -> str:  # type: ignore[assignment]
        from notereader.service.auth import create_token

        with self.runtime.sessions() as s, s.begin():
            _row, tok = create_token(s, role=role, name=name, teams=list(teams), pepper=self.runtime.settings.token_pepper)
        return tok

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"worker-{name}.log", "ab")
        return subprocess.Popen([sys.executable, "-m", "notereader", "worker", "--name", name],
                                env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.log_dir)

    def post_note(self, who: str = "acme", **fields: Any) -> Any:
        body = {"note_id": f"n-{uuid.uuid4().hex[:10]}", "client_id": f"c-{uuid.uuid4().hex[:8]}", "team": "housing",
                "written_at": "2026-11-20T10:00:00Z",
                "text": "Home visit today. The client was calm and we talked through her budget."} | fields
        return self.client.post("/v1/notes", json=body, headers=self.headers(who)), body

    def analysis(self, note_id: str, who: str = "acme", timeout: float = 90) -> Any:
        def ready() -> Any:
            r = self.client.get(f"/v1/notes/{note_id}/analysis", headers=self.headers(who))
            return r if r.status_code == 200 else None
        return wait_for(ready, timeout, what=f"the analysis of {note_id}")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Service]:
    from fastapi.testclient import TestClient

    from notereader.api.app import create_app
    from notereader.service.redis_server import PrivateRedis
    from notereader.service.runtime import Runtime
    from notereader.settings import Settings
    from notereader.store.db import upgrade

    backend = request.param
    tmp = tmp_path_factory.mktemp(f"service-{backend}")
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'notereader.db'}"
    else:
        url, drop = _postgres_database()
    redis = PrivateRedis()
    values: dict[str, Any] = {
        "environment": "test", "database_url": url, "redis_url": redis.url, "signing_secret": SECRET,
        "token_pepper": "test-pepper", "webhooks": {"acme": receiver.url}, "webhook_retry_intervals": [1, 2],
        "analysis_retry_intervals": [1], "sweep_interval_seconds": 2, "webhook_timeout_seconds": 5,
    }
    upgrade(url)
    runtime = Runtime(Settings(**values), redis.url)
    svc = Service(backend, values, runtime, TestClient(create_app(runtime)), {}, None, tmp, receiver)
    svc.tokens = {
        "acme": svc.token("case_system", "acme"),
        "other_cms": svc.token("case_system", "other-cms"),
        "sup_housing": svc.token("supervisor", "sup-h", ["housing"]),
        "sup_family": svc.token("supervisor", "sup-f", ["family"]),
        "analyst": svc.token("analyst", "ana"),
        "auditor": svc.token("auditor", "aud"),
        "admin": svc.token("admin", "adm"),
    }
    svc.worker = svc.start_worker(f"w-{backend}")
    try:
        wait_for(lambda: pipeline_loads(svc) >= 1 or svc.worker.poll() is not None, 300, 0.5, "the worker to load")
        assert svc.worker.poll() is None, (tmp / f"worker-w-{backend}.log").read_text()
        yield svc
    finally:
        for proc in [svc.worker]:
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        svc.client.close()
        runtime.close()
        redis.stop()
        drop()
