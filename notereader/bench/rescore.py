"""Rescore benchmark: time to analyse N stored notes again after a rubric version bump.

A copy of the rubric directory gets one rubric's version bumped and one
``look_for`` example added (always the same edit, so the compiled-rubric cache
serves reruns), and is locked with ``notereader rubrics lock``. Workers start
on that copy; N corpus notes are then stored directly (source ``bench``, no
analyses, no queueing), and the rescore runs through the code path of
``notereader rescore --rubric-id ID --wait``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notereader.bench.corpus import build_corpus
from notereader.bench.load import TEAMS
from notereader.bench.stack import Stack, child_env, wait_until
from notereader.errors import NotereaderError

EXTRA_EXAMPLE = "  - Client said the family ran out of groceries two days before payday."


def bumped_rubrics(dest: Path, rubric_id: str) -> Path:
    """Copy the active rubric directory to ``dest``, bump ``rubric_id``'s version, add one example, relock."""
    from notereader.paths import rubrics_dir

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(rubrics_dir(), dest)
    path = dest / f"{rubric_id}.yaml"
    if not path.is_file():
        raise NotereaderError(f"--rescore-rubric {rubric_id!r}: no {path.name} in {rubrics_dir()}")
    text = path.read_text(encoding="utf-8")
    text, bumped = re.subn(r"^version: (\d+)$", lambda m: f"version: {int(m.group(1)) + 1}", text, count=1, flags=re.MULTILINE)
    text, edited = re.subn(r"^look_for:\n", "look_for:\n" + EXTRA_EXAMPLE + "\n", text, count=1, flags=re.MULTILINE)
    if not (bumped and edited):
        raise NotereaderError(f"{path}: expected a top-level 'version:' and a 'look_for:' list to edit")
    path.write_text(text, encoding="utf-8")
    lock = subprocess.run([sys.executable, "-m", "notereader", "rubrics", "lock", "--rubrics", str(dest)],  # nosec B603 # fixed argv (this interpreter, notereader), no shell
                          env=child_env({}), capture_output=True, text=True)
    if lock.returncode != 0:
        raise NotereaderError(f"notereader rubrics lock --rubrics {dest} failed: {lock.stderr.strip()[-500:]}")
    return dest


def store_notes(st: Stack, n: int, batch: int = 500) -> float:
    """Store ``n`` corpus notes straight into the store (no analyses, nothing queued); returns seconds taken."""
    from notereader.service.ingest import store_note

    written_at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    notes = build_corpus(n)
    started = time.monotonic()
    for i in range(0, n, batch):
        with st.runtime.sessions() as s, s.begin():
            for j, note in enumerate(notes[i:i + batch], start=i):
                store_note(s, {"note_id": f"rescore-{note.note_id}", "client_id": f"rescore-client-{j // 10:05d}",
                               "team": TEAMS[(j // 10) % len(TEAMS)], "written_at": written_at, "text": note.text},
                           "bench")
    return time.monotonic() - started


def run_rescore(opts: Any, workdir: Path) -> dict[str, Any]:
    from notereader.rescore_cli import wait_for_rescore
    from notereader.service.rescoring import rescore_progress, start_rescore

    workdir.mkdir(parents=True, exist_ok=True)
    rubrics = bumped_rubrics(workdir / "rubrics", opts.rescore_rubric)
    with Stack(workdir, opts.database_url, rubrics_dir=str(rubrics)) as st:
        t0 = time.monotonic()
        # a changed rubric compiles once (~90 s on 2 cores); the cores are shared between the workers
        st.start_workers(opts.rescore_workers, timeout=1800,
                         encoder_threads=max(1, (os.cpu_count() or 1) // opts.rescore_workers))
        load_seconds = time.monotonic() - t0
        store_seconds = store_notes(st, opts.rescore_notes)
        t0 = time.monotonic()
        started = start_rescore(st.runtime, actor="bench", role="analyst", rubric_ids=[opts.rescore_rubric])

        def listed() -> bool:
            with st.runtime.sessions() as s:
                p = rescore_progress(s, st.runtime, started.job_id)
            return p is not None and p["status"] != "queued"

        wait_until(listed, 600, f"rescore {started.job_id} to list its revisions", 0.2)
        listed_seconds = time.monotonic() - t0
        final = wait_for_rescore(st.runtime, started.job_id, stream=sys.stderr if opts.progress else None,
                                 timeout=opts.drain_timeout * 10)
        # A worker's start-up sweep can analyse some stored notes before the rescore lists them
        # (they had no analysis at all), so the figure is the time until every stored note has
        # an analysis under the new rubrics, whichever path queued it.

        def analysed_under_new() -> int:
            from sqlalchemy import func, select

            from notereader.store.models import Analysis

            with st.runtime.sessions() as s:
                return int(s.scalar(select(func.count(func.distinct(Analysis.revision_id))).where(
                    Analysis.ruleset_sha256 == st.runtime.ruleset.sha256)) or 0)

        wait_until(lambda: analysed_under_new() >= opts.rescore_notes, opts.drain_timeout * 10,
                   "every stored note to be analysed under the new rubrics", 0.5)
        analysed = analysed_under_new()
        seconds = time.monotonic() - t0
        memory = st.memory()
    return {"notes": opts.rescore_notes, "workers": opts.rescore_workers, "rubric": opts.rescore_rubric,
            "worker_start_seconds": round(load_seconds, 1), "store_seconds": round(store_seconds, 1),
            "list_seconds": round(listed_seconds, 1), "seconds": round(seconds, 1),
            "total": final["total"], "done": final["done"], "status": final["status"], "analysed": analysed,
            "notes_per_s": round(analysed / seconds, 2) if seconds else None, "memory": memory}
