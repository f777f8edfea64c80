"""``notereader rescore``: start a rescore from the command line, optionally waiting with a progress bar.

    notereader rescore [--rubric-id ID ...] [--since ISO] [--wait]

It does exactly what ``POST /v1/rescore`` does (``notereader.service.rescoring``):
records the rescore, enqueues it for a worker, and prints the job id. With
``--wait`` it polls the store and draws done/total, rate and ETA on stderr
until every covered revision is analysed under the active ruleset. Workers
must run the same rubric directory (``NOTEREADER_RUBRICS_DIR``) as this command.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from notereader.errors import NotereaderError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("rescore", help="analyse stored notes again under the active rubrics (after a rubric change)",
                       description="Queue an analysis, under the active rubric set, of every note whose latest "
                                   "revision has none under it; with --rubric-id only notes whose newest analysis "
                                   "used another version of those rubrics. Needs NOTEREADER_REDIS_URL and running "
                                   "workers with the same rubric directory.")
    p.add_argument("--rubric-id", action="append", default=[], metavar="ID", dest="rubric_ids",
                   help="only rescore what this rubric's change touches (repeatable)")
    p.add_argument("--since", metavar="ISO", help="only notes written at or after this time, e.g. 2026-11-01T00:00:00Z")
    p.add_argument("--wait", action="store_true", help="show a progress bar on stderr until the rescore has finished")
    p.add_argument("--poll-seconds", type=float, default=1.0, help=argparse.SUPPRESS)


def parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 time with a timezone (``Z`` accepted); a clear error otherwise."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise NotereaderError(f"--since {value!r} is not an ISO 8601 time",
                              hint="write it like 2026-11-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise NotereaderError(f"--since {value!r} has no timezone", hint="add Z or an offset, e.g. 2026-11-01T00:00:00Z")
    return parsed


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def progress_line(done: int, total: int, elapsed: float, rate: float | None, width: int = 30) -> str:
    """One progress-bar line: bar, done/total, percent, rate and ETA."""
    share = done / total if total else 1.0
    filled = int(round(width * share))
    bar = "#" * filled + "-" * (width - filled)
    rate_text = f"{rate:.1f} notes/s" if rate else "-- notes/s"
    eta = _duration((total - done) / rate) if rate and done < total else "--:--"
    return f"[{bar}] {done}/{total} {share:6.1%} {rate_text} elapsed {_duration(elapsed)} ETA {eta}"


def wait_for_rescore(rt: Any, job_id: str, *, poll_seconds: float = 1.0, stream: TextIO | None = sys.stderr,
                     timeout: float | None = None, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Poll the rescore's progress until it has finished or failed; draw a progress bar on ``stream``.

    The rate is measured over the last ~10 s of polls, so the ETA follows the
    current speed. Returns the final progress dict with ``seconds`` (since
    this call started) added. Raises ``NotereaderError`` on failure or timeout.
    """
    from notereader.service.rescoring import rescore_progress

    started = time.monotonic()
    history: list[tuple[float, int]] = []
    tty = stream is not None and stream.isatty()
    last_print = 0.0
    while True:
        with rt.sessions() as session:
            progress = rescore_progress(session, rt, job_id)
        if progress is None:
            raise NotereaderError(f"rescore {job_id} is not in the store")
        now = time.monotonic()
        elapsed = now - started
        history.append((now, progress["done"]))
        while len(history) > 2 and now - history[0][0] > 10:
            history.pop(0)
        (t0, d0), (t1, d1) = history[0], history[-1]
        rate = (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None
        if stream is not None and progress["status"] != "queued":
            line = progress_line(progress["done"], progress["total"], elapsed, rate)
            if tty:
                stream.write("\r" + line)
                stream.flush()
            elif now - last_print >= 10 or progress["status"] != "running":
                stream.write(line + "\n")
                stream.flush()
                last_print = now
        if progress["status"] == "finished":
            if tty and stream is not None:
                stream.write("\n")
            return progress | {"seconds": elapsed}
        if progress["status"] == "failed":
            raise NotereaderError(f"rescore {job_id} failed: {' '.join(progress['error'] or [])}",
                                  hint="see the worker's log; workers must run the same rubrics as this command")
        if timeout is not None and elapsed > timeout:
            raise NotereaderError(f"rescore {job_id} did not finish within {timeout:.0f} s "
                                  f"({progress['done']}/{progress['total']} done, status {progress['status']})")
        sleep(poll_seconds)


def cmd_rescore(args: argparse.Namespace) -> int:
    from notereader.service.redis_server import resolve_redis_url
    from notereader.service.rescoring import UnknownRubrics, start_rescore
    from notereader.service_cli import _runtime, load_settings

    settings = load_settings()
    since = parse_since(args.since)
    rt = _runtime(settings, resolve_redis_url(settings, start=False))
    try:
        try:
            started = start_rescore(rt, actor="cli", role="analyst", rubric_ids=args.rubric_ids or None, since=since)
        except UnknownRubrics as exc:
            raise NotereaderError(f"--rubric-id: {exc}",
                                  hint=f"active rubrics: {', '.join(sorted(r.id for r in rt.ruleset.rubrics))}") from None
        print(f"rescore {started.job_id} queued (ruleset {started.ruleset_sha256[:12]})", file=sys.stderr)
        if args.wait:
            final = wait_for_rescore(rt, started.job_id, poll_seconds=args.poll_seconds)
            print(f"rescore {started.job_id}: {final['done']}/{final['total']} note revision(s) analysed "
                  f"in {final['seconds']:.1f} s", file=sys.stderr)
        print(started.job_id)
    finally:
        rt.close()
    return 0


__all__ = ["add_parser", "cmd_rescore", "parse_since", "progress_line", "wait_for_rescore"]
