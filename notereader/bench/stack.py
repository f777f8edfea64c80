"""Real service components for the service benchmarks, started and stopped by the bench itself.

A ``Stack`` is a private redis-server, a fresh database (a SQLite file, or a
new database on a PostgreSQL server that is dropped at the end), and on
request the API under uvicorn (``python -m notereader serve``, given
``NOTEREADER_REDIS_URL`` so it starts no Redis or worker of its own) and K
``python -m notereader worker`` processes. Children run this very checkout
(``PYTHONPATH`` points at it) with ``sys.executable``. Everything is stopped
by ``Stack.close``, also when a measurement fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notereader.errors import NotereaderError
from notereader.paths import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; NotereaderError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise NotereaderError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def proc_status_kib(pid: int, key: str = "VmHWM") -> int | None:
    """A ``/proc/<pid>/status`` memory figure in KiB (VmHWM is the peak resident set); None if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (e.g. RQ's forked scheduler inside a worker)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss(pid: int) -> dict[str, Any]:
    """Peak RSS (VmHWM) of a process in MiB, with its children's peaks listed separately."""
    own = proc_status_kib(pid)
    kids = {str(c): round(k / 1024, 1) for c in child_pids(pid) if (k := proc_status_kib(c)) is not None}
    return {"pid": pid, "peak_rss_mib": round(own / 1024, 1) if own is not None else None, "children_peak_rss_mib": kids}


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def child_env(values: dict[str, Any]) -> dict[str, str]:
    """This process's environment without any NOTEREADER_* setting, plus ``values`` and this checkout on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEREADER_")}
    for key, value in values.items():
        env[f"NOTEREADER_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def create_database(workdir: Path, server_url: str | None) -> tuple[str, Callable[[], None]]:
    """A fresh, migrated database: a SQLite file in ``workdir``, or a new database on the PostgreSQL at ``server_url``."""
    from notereader.store.db import upgrade

    drop: Callable[[], None] = lambda: None
    if server_url is None:
        url = f"sqlite:///{workdir / 'bench.db'}"
    elif server_url.startswith(("postgresql://", "postgresql+psycopg://")):
        import psycopg

        name = f"notereader_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        plain = server_url.replace("postgresql+psycopg://", "postgresql://")
        try:
            admin = psycopg.connect(plain, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise NotereaderError(f"PostgreSQL is not reachable at {plain} ({exc})",
                                  hint="start it, or leave out --database-url to use a SQLite file") from None
        admin.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()

        url = f"{plain.rsplit('/', 1)[0]}/{name}"
    else:
        raise NotereaderError(f"--database-url {server_url!r}: give a postgresql:// URL of a server the bench may "
                              "create a database on, or leave it out for SQLite")
    try:
        upgrade(url)
    except BaseException:
        drop()
        raise
    return url, drop


@dataclass
class Stack:
    """Redis, a database and (once started) the API and workers of one benchmark; ``close()`` stops them all."""

    workdir: Path
    database_server_url: str | None = None
    rubrics_dir: str | None = None
    extra_settings: dict[str, Any] = field(default_factory=dict)
    redis: Any = None
    database_url: str = ""
    settings_values: dict[str, Any] = field(default_factory=dict)
    runtime: Any = None
    api: subprocess.Popen[bytes] | None = None
    api_url: str = ""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _drop: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        from notereader.service.redis_server import PrivateRedis
        from notereader.service.runtime import Runtime
        from notereader.settings import Settings

        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.redis = PrivateRedis()
            self.database_url, self._drop = create_database(self.workdir, self.database_server_url)
            # Sweeps and write-backs are not what is measured: no webhooks, and the periodic sweep
            # (which would queue stored notes before a rescore asks for them) only at worker start.
            # No per-token rate limit: the benchmark measures how fast the API can go.
            self.settings_values = {"environment": "test", "database_url": self.database_url, "redis_url": self.redis.url,
                                    "sweep_interval_seconds": 3600, "webhooks": {}, "rate_limit_per_minute": 0}
            if self.rubrics_dir:
                self.settings_values["rubrics_dir"] = self.rubrics_dir
            self.settings_values.update(self.extra_settings)  # e.g. the fault tests' webhooks and retry intervals
            self.runtime = Runtime(Settings(**self.settings_values), self.redis.url)
        except BaseException:
            self.close()
            raise

    def env(self) -> dict[str, str]:
        return child_env(self.settings_values)

    def _log(self, name: str) -> Any:
        return open(self.workdir / f"{name}.log", "ab")

    def token(self, role: str = "case_system", name: str = "bench-cms") -> str:
        from notereader.service.auth import create_token

        with self.runtime.sessions() as s, s.begin():
            _row, tok = create_token(s, role=role, name=name, teams=[], pepper=self.runtime.settings.token_pepper)
        return tok

    def start_api(self, timeout: float = 60, processes: int = 1) -> str:
        import httpx

        port = free_port()
        with self._log("api") as log:
            self.api = subprocess.Popen([sys.executable, "-m", "notereader", "serve", "--port", str(port),
                                         "--workers", str(processes)],  # nosec B603 # fixed argv (this interpreter, notereader serve), no shell
                                        env=self.env(), cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        self.api_url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if self.api is not None and self.api.poll() is not None:
                raise NotereaderError(f"the API exited at start (code {self.api.returncode}); see {self.workdir}/api.log")
            try:
                return httpx.get(f"{self.api_url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout, f"the API on port {port} to be ready (log: {self.workdir}/api.log)", 0.3)
        return self.api_url

    def pipeline_loads(self) -> int:
        from notereader.service import metrics

        return metrics.counter(self.runtime.redis, "pipeline_loads")

    def start_workers(self, k: int, timeout: float = 300, encoder_threads: int | None = None) -> list[subprocess.Popen[bytes]]:
        """Start ``k`` more workers and wait until each has loaded the pipeline."""
        target = self.pipeline_loads() + k
        new = []
        env = self.env()
        if encoder_threads:
            env["NOTEREADER_ENCODER_THREADS"] = str(encoder_threads)
        for _ in range(k):
            name = f"bench-worker-{len(self.workers) + 1}"
            with self._log(name) as log:
                proc = subprocess.Popen([sys.executable, "-m", "notereader", "worker", "--name", f"{name}-{uuid.uuid4().hex[:6]}"],  # nosec B603 # fixed argv (this interpreter, notereader worker), no shell
                                        env=env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
            self.workers.append(proc)
            new.append(proc)

        def loaded() -> bool:
            for proc in new:
                if proc.poll() is not None:
                    raise NotereaderError(f"a worker exited while loading (code {proc.returncode}); see the "
                                          f"bench-worker-*.log files in {self.workdir}")
            return self.pipeline_loads() >= target

        wait_until(loaded, timeout, f"{k} worker(s) to load the pipeline (logs in {self.workdir})", 0.5)
        return new

    def stop_workers(self) -> None:
        """Stop every running worker (in parallel) and forget them."""
        live = [w for w in self.workers if w.poll() is None]
        for proc in live:
            proc.send_signal(signal.SIGTERM)
        for proc in live:
            stop_process(proc)
        self.workers = []

    def memory(self) -> dict[str, Any]:
        """Peak RSS of the API and of each worker, read now from /proc."""
        return {"api": peak_rss(self.api.pid) if self.api is not None else None,
                "workers": [peak_rss(w.pid) for w in self.workers if w.poll() is None]}

    def close(self) -> None:
        procs = [p for p in [*self.workers, self.api] if p is not None and p.poll() is None]
        for proc in procs:  # signal all first, so they shut down in parallel
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                stop_process(proc)
            except Exception:  # nosec B110 # keep stopping the rest
                pass
        if self.runtime is not None:
            self.runtime.close()
        if self.redis is not None:
            self.redis.stop()
        self._drop()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
