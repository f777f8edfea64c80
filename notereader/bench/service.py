"""Service benchmarks (issue 4, items 3-6): ingest, end-to-end latency, memory, rescore.

Each measurement starts real components itself (``notereader.bench.stack``):
a private redis-server, a fresh SQLite file (or a new PostgreSQL database with
``database_url``), the API under uvicorn and ``notereader worker`` processes.

- **ingest**: POST/s accepted by the API and persisted (rows in
  ``note_revisions`` counted at the end), with a small pool of concurrent
  clients and no workers.
- **end to end**: open-loop offered loads (5, 10, 20 notes/s) with 1 and 2
  workers. Latency per note is read from the store: the analysis row's
  ``created_at`` (set by the worker just before its transaction commits) minus
  the revision's ``received_at`` (set by the API when it stores the note); a
  few notes are also timed client-side, POST sent to the first 200 from
  ``GET /v1/notes/{id}/analysis`` (polled 0.1 s apart, backing off to 1 s). The RQ queue depth is
  sampled every 0.5 s. Each load runs until every accepted note is analysed,
  so loads do not overlap.
- **memory**: peak RSS (``VmHWM``) of the API and of every worker at the end.
- **rescore**: after bumping one rubric's version (and editing it) in a copy
  of the rubric directory, N notes are stored directly (no analyses); the
  rescore runs through ``notereader.service.rescoring`` and
  ``notereader.rescore_cli.wait_for_rescore``, the code path of
  ``notereader rescore --rubric-id ID --wait``.

Entry point: ``run_service_benches(options) -> dict`` (JSON-able);
``python -m notereader.bench.service --smoke`` runs it standalone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from notereader.bench.corpus import BenchNote, build_corpus, describe, typical
from notereader.bench.e2e import run_e2e
from notereader.bench.load import note_body, percentiles, post_closed_loop, post_closed_loop_light
from notereader.bench.rescore import run_rescore
from notereader.bench.stack import Stack, child_pids, cpu_seconds

MEASUREMENTS = ("ingest", "e2e", "rescore")


@dataclass
class ServiceBenchOptions:
    """What to measure and at what size; ``smoke`` shrinks every size to a quick check."""

    smoke: bool = False
    only: tuple[str, ...] = MEASUREMENTS
    database_url: str | None = None  # a PostgreSQL server URL to create the bench database on; None: SQLite file
    workdir: str | None = None  # keep logs and databases here (default: a temporary directory, removed)
    ingest_notes: int = 2000
    ingest_concurrency: int = 8
    e2e_rates: tuple[float, ...] = (5.0, 10.0, 20.0)
    e2e_seconds: float = 30.0
    e2e_workers: tuple[int, ...] = (1, 2)
    e2e_poll_every: int = 25  # time every n-th note client-side too
    drain_timeout: float = 1800.0
    rescore_notes: int = 10_000
    rescore_workers: int = 2
    rescore_rubric: str = "food"
    api_processes: int = 1  # `notereader serve --workers N`
    e2e_notes: str = "typical"  # typical: notes under 200 words (the targets); mix: the whole length mix
    progress: bool = True

    def sized(self) -> ServiceBenchOptions:
        if not self.smoke:
            return self
        return ServiceBenchOptions(**{**asdict(self), "ingest_notes": 20, "ingest_concurrency": 4, "e2e_rates": (5.0,),
                                      "e2e_seconds": 2.0, "e2e_workers": (1,), "e2e_poll_every": 3,
                                      "drain_timeout": 300.0, "rescore_notes": 12, "rescore_workers": 1})

    @classmethod
    def from_any(cls, options: Any) -> ServiceBenchOptions:
        """From an instance, a mapping or an argparse Namespace (unknown keys are ignored)."""
        if isinstance(options, cls):
            return options
        data = dict(options) if isinstance(options, dict) else vars(options) if options is not None else {}
        known = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in known and v is not None}
        for key in ("only", "e2e_rates", "e2e_workers"):
            if key in kept:
                kept[key] = tuple(kept[key])
        unknown = set(kept.get("only", ())) - set(MEASUREMENTS)
        if unknown:
            raise ValueError(f"unknown service measurement(s) {sorted(unknown)}; choose from {', '.join(MEASUREMENTS)}")
        return cls(**kept)


def add_service_arguments(p: argparse.ArgumentParser) -> None:
    """The service benchmarks' options, for ``notereader bench`` or ``python -m notereader.bench.service``."""
    p.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every measurement still works")
    p.add_argument("--only", nargs="+", choices=MEASUREMENTS, help="run only these service measurements")
    p.add_argument("--database-url", help="PostgreSQL server URL; the bench creates and drops its own database on it "
                                          "(default: a fresh SQLite file)")
    p.add_argument("--workdir", help="keep databases and process logs here instead of a removed temporary directory")
    p.add_argument("--ingest-notes", type=int, metavar="N")
    p.add_argument("--ingest-concurrency", type=int, metavar="C")
    p.add_argument("--e2e-rates", type=float, nargs="+", metavar="NOTES_PER_S")
    p.add_argument("--e2e-seconds", type=float, metavar="S", help="how long each offered load is sent")
    p.add_argument("--e2e-workers", type=int, nargs="+", metavar="K")
    p.add_argument("--e2e-notes", choices=["typical", "mix"],
                   help="end-to-end notes: typical (under 200 words, what the targets are stated for; default) "
                        "or mix (the corpus's whole length mix)")
    p.add_argument("--api-processes", type=int, metavar="N",
                   help="API processes for ingest and end to end (`notereader serve --workers N`, default 1)")
    p.add_argument("--rescore-notes", type=int, metavar="N", help="stored notes to rescore (default 10,000)")
    p.add_argument("--rescore-workers", type=int, metavar="K")
    p.add_argument("--rescore-rubric", metavar="ID", help="the rubric whose version is bumped (default food)")


def run_ingest(opts: ServiceBenchOptions, workdir: Path, corpus: list[BenchNote]) -> dict[str, Any]:
    """POST/s accepted and persisted by one API process with no workers running."""
    from sqlalchemy import func, select

    from notereader.store.models import NoteRevision

    with Stack(workdir, opts.database_url) as st:
        st.start_api(processes=opts.api_processes)
        token = st.token()
        post_closed_loop(st.api_url, token, [note_body(n, "warmup") for n in corpus[:10]], 2)
        bodies = [note_body(n, "ingest") for n in corpus[:opts.ingest_notes]]
        api_pids = [st.api.pid, *child_pids(st.api.pid)]
        cpu0, client0 = {p: cpu_seconds(p) for p in api_pids}, time.process_time()
        started = time.monotonic()
        results = post_closed_loop_light(st.api_url, token, bodies, opts.ingest_concurrency)
        seconds = time.monotonic() - started
        api_cpu = sum((cpu_seconds(p) or 0.0) - (cpu0[p] or 0.0) for p in api_pids)
        client_cpu = time.process_time() - client0
        with st.runtime.sessions() as s:
            persisted = s.scalar(select(func.count()).select_from(NoteRevision)
                                 .where(NoteRevision.note_id.startswith("ingest-"))) or 0
        accepted = sum(r.status == 202 for r in results)
        statuses: dict[str, int] = {}
        for r in results:
            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
        return {"notes": len(bodies), "concurrency": opts.ingest_concurrency, "api_processes": opts.api_processes,
                "client": "minimal HTTP/1.1 keep-alive client (bench.load.post_closed_loop_light)",
                "cpu_ms_per_post": {"api": round(1000 * api_cpu / len(bodies), 2),
                                    "client": round(1000 * client_cpu / len(bodies), 2)},
                "seconds": round(seconds, 2),
                "accepted": accepted, "persisted": persisted, "statuses": statuses,
                "posts_per_s": round(accepted / seconds, 1) if seconds else None,
                "post_latency": percentiles([r.answered - r.sent for r in results]),
                "queued_jobs": st.runtime.queue.count, "memory": st.memory()}


def run_service_benches(options: Any = None) -> dict[str, Any]:
    """Run the chosen service measurements; returns a JSON-able dict (see the module docstring)."""
    opts = ServiceBenchOptions.from_any(options).sized()
    own_dir = opts.workdir is None
    workdir = Path(opts.workdir or tempfile.mkdtemp(prefix="notereader-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    e2e_total = sum(max(1, round(r * opts.e2e_seconds)) for r in opts.e2e_rates) * len(opts.e2e_workers)
    corpus = build_corpus(max(opts.ingest_notes, e2e_total, 10))
    if opts.e2e_notes == "typical":  # the same generated notes, keeping those under 200 words
        e2e_corpus = typical(build_corpus(max(4 * e2e_total, 10)), e2e_total)
    else:
        e2e_corpus = corpus[:e2e_total]
    out: dict[str, Any] = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": list(os.getloadavg())},
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(opts).items()},
        "database": "postgresql" if opts.database_url else "sqlite",
    }
    try:
        if "ingest" in opts.only:
            out["ingest"] = run_ingest(opts, workdir / "ingest", corpus)
        if "e2e" in opts.only:
            out["e2e_corpus"] = describe(e2e_corpus) | {"kind": opts.e2e_notes}
            out["e2e"] = run_e2e(opts, workdir / "e2e", e2e_corpus)
        if "rescore" in opts.only:
            out["rescore"] = run_rescore(opts, workdir / "rescore")
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    out["machine"]["load_average_at_end"] = list(os.getloadavg())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m notereader.bench.service", description=__doc__.split("\n\n")[0])
    add_service_arguments(p)
    p.add_argument("--out", help="also write the JSON result to this file")
    args = p.parse_args(argv)
    # Stop cleanly (every child process stopped, temporary files removed) on SIGTERM, and on Ctrl-C
    # even when started in the background, where the shell leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    result = run_service_benches(args)
    text = json.dumps(result, indent=2, sort_keys=True, default=str)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
