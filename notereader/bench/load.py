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


async def _raw_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one prepared HTTP/1.1 request on a kept-alive connection; the response's status (body read and dropped)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding":
            raise RuntimeError("the light client handles only Content-Length responses")
    if length:
        await reader.readexactly(length)
    return status


def post_closed_loop_light(base_url: str, token: str, bodies: list[dict[str, Any]], concurrency: int) -> list[PostResult]:
    """``post_closed_loop`` with a minimal HTTP/1.1 client (requests serialised up front, one kept-alive socket
    per client): the load generator shares the machine's cores with the service it measures, and httpx
    spent ~1.6 ms of CPU per POST, about a fifth of the service's own cost. Like wrk, this one stays out of
    the way. Any error or dropped connection is recorded as status 0 with the error."""
    import json as _json
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    requests: list[bytes] = []
    for body in bodies:
        payload = _json.dumps(body, ensure_ascii=False).encode()
        requests.append((f"POST /v1/notes HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload)

    async def run() -> list[PostResult]:
        results: list[PostResult] = []
        todo = iter(range(len(bodies)))

        async def one_client() -> None:
            reader = writer = None
            for i in todo:
                sent = time.monotonic()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    status = await _raw_exchange(reader, writer, requests[i])  # type: ignore[arg-type]
                    results.append(PostResult(i, status, sent, sent, time.monotonic()))
                except (OSError, asyncio.IncompleteReadError, ValueError, RuntimeError) as exc:
                    results.append(PostResult(i, 0, sent, sent, time.monotonic(), f"{type(exc).__name__}: {exc}"))
                    if writer is not None:
                        writer.close()
                    reader = writer = None
            if writer is not None:
                writer.close()

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        return results

    return asyncio.run(run())


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
