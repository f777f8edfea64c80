"""End-to-end latency through the real API, Redis, store and workers, at fixed offered loads.

Latency of a note = its analysis row's ``created_at`` minus its revision's
``received_at``, both read from the store (server clocks, no client in the
path): the time from the API storing the note to the worker writing its
analysis, which commits a few milliseconds later and is then readable.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from notereader.bench.corpus import BenchNote
from notereader.bench.load import QueueSampler, note_body, percentiles, post_open_loop
from notereader.bench.stack import Stack, wait_until


def _store_latencies(st: Stack, prefix: str) -> dict[str, float]:
    """note_id -> seconds from received_at to the first analysis's created_at, for notes under ``prefix``."""
    from sqlalchemy import func, select

    from notereader.store.models import Analysis, NoteRevision

    with st.runtime.sessions() as s:
        rows = s.execute(select(NoteRevision.note_id, NoteRevision.received_at, func.min(Analysis.created_at))
                         .join(Analysis, Analysis.revision_id == NoteRevision.id)
                         .where(NoteRevision.note_id.startswith(prefix + "-"))
                         .group_by(NoteRevision.note_id, NoteRevision.received_at)).all()
    return {note_id: (analysed - received).total_seconds() for note_id, received, analysed in rows}


def run_load(st: Stack, token: str, notes: list[BenchNote], rate: float, workers: int, opts: Any) -> dict[str, Any]:
    """One offered load: send ``notes`` open-loop at ``rate`` per second, wait until all are analysed."""
    prefix = f"e2e-w{workers}-r{rate:g}"
    bodies = [note_body(n, prefix) for n in notes]
    words = {b["note_id"]: n.words for b, n in zip(bodies, notes)}
    with QueueSampler(lambda: st.runtime.queue.count) as sampler:
        res = post_open_loop(st.api_url, token, bodies, rate, poll_every=opts.e2e_poll_every,
                             poll_timeout=opts.drain_timeout)
        send_seconds = max(p.sent for p in res.posts) - res.started
        accepted = {bodies[p.index]["note_id"] for p in res.posts if p.status == 202}
        drained = True
        try:
            wait_until(lambda: len(_store_latencies(st, prefix)) >= len(accepted), opts.drain_timeout,
                       f"the {len(accepted)} notes of offered load {rate:g}/s to be analysed", 0.5)
        except Exception:
            drained = False
        drain_seconds = time.monotonic() - res.started
    latencies = _store_latencies(st, prefix)
    short = [v for k, v in latencies.items() if words[k] < 200]
    client = [res.client_seen[p.index] - p.sent for p in res.posts if p.index in res.client_seen]
    statuses: dict[str, int] = {}
    for p in res.posts:
        statuses[str(p.status)] = statuses.get(str(p.status), 0) + 1
    return {
        "offered_per_s": rate, "workers": workers, "notes": len(bodies), "accepted": len(accepted),
        "analysed": len(latencies), "drained": drained, "statuses": statuses,
        "sent_per_s": round((len(bodies) - 1) / send_seconds, 2) if send_seconds > 0 else None,
        "max_send_lag_ms": round(max(p.sent - p.scheduled for p in res.posts) * 1000, 1),
        "seconds_until_all_analysed": round(drain_seconds, 1),
        "analysed_per_s": round(len(latencies) / drain_seconds, 2) if drain_seconds else None,
        "latency_store": percentiles(list(latencies.values())),
        "latency_store_under_200_words": percentiles(short) | {"n": len(short)},
        "latency_client_polled": percentiles(client) | {"n": len(client)},
        "post_latency": percentiles([p.answered - p.sent for p in res.posts]),
        "queue_depth": sampler.summary(),
    }


def run_e2e(opts: Any, workdir: Path, corpus: list[BenchNote]) -> dict[str, Any]:
    """Every offered load with every worker count.

    Each worker count gets fresh workers with the machine's cores shared
    between them (``NOTEREADER_ENCODER_THREADS`` = cores // workers, at least
    1), as docs/service.md advises: two workers that each use every core
    slow each other down.
    """
    runs: list[dict[str, Any]] = []
    worker_load_seconds: list[float] = []
    memory: dict[str, Any] = {}
    with Stack(workdir, opts.database_url) as st:
        st.start_api(processes=getattr(opts, "api_processes", 1))
        token = st.token()
        offset = 0
        for k in sorted(opts.e2e_workers):
            st.stop_workers()
            threads = max(1, (os.cpu_count() or 1) // k)
            t0 = time.monotonic()
            st.start_workers(k, encoder_threads=threads)
            worker_load_seconds.append(round(time.monotonic() - t0, 1))
            for rate in opts.e2e_rates:
                n = max(1, round(rate * opts.e2e_seconds))
                runs.append(run_load(st, token, corpus[offset:offset + n], rate, k, opts) | {"encoder_threads": threads})
                offset += n
            snap = st.memory()  # before these workers stop: the peaks of every worker count are kept
            memory = {"api": snap["api"], "workers": memory.get("workers", []) + snap["workers"]}
    return {"seconds_per_load": opts.e2e_seconds, "worker_start_seconds": worker_load_seconds,
            "latency_definition": "analysis.created_at - note_revision.received_at (store clocks)",
            "runs": runs, "memory": memory}
