"""HTTP load for the service benchmarks: a closed pool of posting clients, an open-loop sender, a queue sampler.

Notes come from ``notereader.bench.corpus`` and are posted as ``POST /v1/notes``
bodies. The open-loop sender starts each POST at its scheduled time whether or
not earlier ones have been answered, so a slow service shows up as latency and
queue depth, not as a lower offered load.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from notereader.bench.corpus import BenchNote

TEAMS = ["housing", "family", "reentry", "recovery", "adult-protective"]


def note_body(note: BenchNote, prefix: str) -> dict[str, Any]:
    """The POST /v1/notes body of a corpus note; ten notes per client, teams in turn."""
    i = int(note.note_id.rsplit("-", 1)[1])
    return {"note_id": f"{prefix}-{note.note_id}", "client_id": f"{prefix}-client-{i // 10:05d}",
            "team": TEAMS[(i // 10) % len(TEAMS)], "written_at": "2026-11-20T10:00:00Z", "text": note.text}


def percentiles(values: list[float], points: tuple[int, ...] = (50, 95, 99)) -> dict[str, float | None]:
    """p50/p95/p99 (nearest rank) in milliseconds of values in seconds; None when there are none."""
    if not values:
        return {f"p{p}_ms": None for p in points}
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for p in points:
        rank = max(1, -(-p * len(ordered) // 100))  # ceil(p/100 * n)
        out[f"p{p}_ms"] = round(ordered[rank - 1] * 1000, 1)
    out["mean_ms"] = round(statistics.fmean(ordered) * 1000, 1)
    out["max_ms"] = round(ordered[-1] * 1000, 1)
    return out


@dataclass
class PostResult:
    index: int
    status: int
    scheduled: float
    sent: float
    answered: float
    error: str | None = None


async def _post(client: httpx.AsyncClient, body: dict[str, Any], index: int, scheduled: float) -> PostResult:
    sent = time.monotonic()
    try:
        r = await client.post("/v1/notes", json=body)
        return PostResult(index, r.status_code, scheduled, sent, time.monotonic())
    except httpx.HTTPError as exc:
        return PostResult(index, 0, scheduled, sent, time.monotonic(), f"{type(exc).__name__}: {exc}")


def _client(base_url: str, token: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60,
                             limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections))


def post_closed_loop(base_url: str, token: str, bodies: list[dict[str, Any]], concurrency: int) -> list[PostResult]:
    """Post every body with ``concurrency`` clients, each sending its next note as soon as the last is answered."""
    async def run() -> list[PostResult]:
        results: list[PostResult] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(bodies)):
            queue.put_nowait(i)
        async with _client(base_url, token, concurrency) as client:
            async def one_client() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    results.append(await _post(client, bodies[i], i, time.monotonic()))
            await asyncio.gather(*(one_client() for _ in range(concurrency)))
        return results

    return asyncio.run(run())


@dataclass
class OpenLoopResult:
    posts: list[PostResult]
    started: float
    client_seen: dict[int, float] = field(default_factory=dict)  # index -> monotonic time its analysis was first readable


def post_open_loop(base_url: str, token: str, bodies: list[dict[str, Any]], rate: float,
                   poll_every: int = 0, poll_timeout: float = 300) -> OpenLoopResult:
    """Start POST i at ``start + i / rate``; for every ``poll_every``-th note also poll its analysis, 0.1 s apart
    backing off to 1 s (client-side latency: POST sent to the first 200 from GET /v1/notes/{id}/analysis)."""
    async def run() -> OpenLoopResult:
        out = OpenLoopResult([], time.monotonic())
        async with _client(base_url, token, 200) as client:
            async def poll(i: int, note_id: str) -> None:
                # 0.1 s apart at first, backing off to 1 s: a slow analysis is timed to within ~1 s
                # without the polls (each an audited read) taking CPU from the workers being measured.
                deadline = time.monotonic() + poll_timeout
                interval = 0.1
                while time.monotonic() < deadline:
                    try:
                        r = await client.get(f"/v1/notes/{note_id}/analysis")
                        if r.status_code == 200:
                            out.client_seen[i] = time.monotonic()
                            return
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(interval)
                    interval = min(1.0, interval * 1.5)

            async def send(i: int, scheduled: float) -> None:
                result = await _post(client, bodies[i], i, scheduled)
                out.posts.append(result)
                if poll_every and i % poll_every == 0 and result.status == 202:
                    await poll(i, bodies[i]["note_id"])

            tasks = []
            out.started = time.monotonic() + 0.05
            for i in range(len(bodies)):
                scheduled = out.started + i / rate
                delay = scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(i, scheduled)))
            await asyncio.gather(*tasks)
        return out

    return asyncio.run(run())


class QueueSampler:
    """Samples a number (the RQ queue depth) every ``interval`` seconds in a background thread."""

    def __init__(self, read: Callable[[], int], interval: float = 0.5) -> None:
        self.read = read
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((round(time.monotonic() - self.t0, 2), int(self.read())))
            except Exception:  # nosec B110 # a missed sample is not worth failing the benchmark for
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> QueueSampler:
        self.t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def summary(self, points: int = 40) -> dict[str, Any]:
        """Max and mean depth, and at most ``points`` evenly spaced [seconds, depth] samples."""
        depths = [d for _t, d in self.samples]
        step = max(1, -(-len(self.samples) // points))
        series = [list(s) for s in self.samples[::step]]
        return {"interval_s": self.interval, "samples": len(depths), "max": max(depths, default=0),
                "mean": round(statistics.fmean(depths), 1) if depths else 0, "series": series}
