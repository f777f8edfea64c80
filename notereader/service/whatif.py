"""Checks an auditor or analyst asks for from a page, run by a worker (which has the pipeline loaded).

- ``rerun_check``: analyse a stored note revision again and compare the
  result byte for byte with the stored analysis (same ruleset and model only).
- ``rubric_impact``: analyse a sample of stored notes under an edited rubric
  set and list the flags it would gain or lose, before anything is published.
  A rubric set the machine has never compiled takes about 90 s to compile
  (cached afterwards under ~/.cache/notereader), and each note costs about
  0.1 s, so the sample is bounded (``IMPACT_SAMPLE``, newest notes first).

Like every job, these carry ids and rubric YAML, never note text, and their
results hold note ids and character offsets, never quotes: the page reads the
sentences from the store when it shows them.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from rq.job import Job
from sqlalchemy import func, select

from notereader.analysis import canonical_json
from notereader.notes import Note
from notereader.rubrics.schema import RubricSet, load_rubric_dir, load_rubrics
from notereader.service.runtime import Runtime
from notereader.store.models import Analysis, Note as NoteRow, NoteRevision

IMPACT_SAMPLE = 200
IMPACT_TIMEOUT_SECONDS = 1800
RESULT_TTL_SECONDS = 24 * 3600
_candidate_readers: dict[str, Any] = {}


def _note(rev: NoteRevision) -> Note:
    goals = tuple((g["goal_id"], g["text"]) for g in (rev.plan.goals if rev.plan else []))
    return Note(rev.note_id, rev.text, goals)


def rerun_check(analysis_id: int) -> dict[str, Any]:
    """Analyse the analysis's note revision again; does the result reproduce byte for byte?"""
    from notereader.service.jobs import context

    ctx = context()
    reader = ctx.reader
    with ctx.runtime.sessions() as session:
        row = session.get(Analysis, analysis_id)
        if row is None:
            raise LookupError(f"analysis {analysis_id} is not in the store")
        note, stored_body, stored_fp = _note(row.revision), row.body, row.fingerprint
        stored_ruleset, stored_model = row.ruleset_sha256, row.model_sha256
    ruleset_sha, model_sha = reader.ruleset.sha256, reader.embedder.manifest.sha256
    out: dict[str, Any] = {"analysis_id": analysis_id, "stored_fingerprint": stored_fp, "worker_ruleset_sha256": ruleset_sha,
                           "worker_model_sha256": model_sha, "stored_ruleset_sha256": stored_ruleset,
                           "stored_model_sha256": stored_model}
    if (stored_ruleset, stored_model) != (ruleset_sha, model_sha):
        return out | {"comparable": False, "reproduces": None, "fresh_fingerprint": None,
                      "message": "the stored analysis used other rubrics or another model than the workers run now; "
                                 "a rescore re-analyses the note under the active ones"}
    fresh = reader.analyze(note)
    same = canonical_json(fresh) == stored_body
    return out | {"comparable": True, "reproduces": same, "fresh_fingerprint": fresh["fingerprint"],
                  "message": "the stored result reproduces byte for byte" if same else
                             "the fresh result differs from the stored one: the determinism contract is broken here"}


def candidate_problems(directory: Path) -> tuple[RubricSet, list[str]]:
    """Load an edited rubric directory; every problem as one line (empty when it loads)."""
    rs, problems = load_rubric_dir(directory)
    return rs, [str(p) for p in problems]


def write_candidate(active_dir: str, files: dict[str, str], into: Path) -> None:
    """The active rubric files with ``files`` (name -> YAML text) put over them."""
    for p in sorted(Path(active_dir).iterdir()):
        if p.suffix in (".yaml", ".yml"):
            (into / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    for name, text in files.items():
        (into / name).write_text(text, encoding="utf-8")


def _risks(analysis: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rubric_id"]: r for r in analysis["risks"]}


def _cites(item: dict[str, Any]) -> list[dict[str, int]]:
    return [{"start": c["start"], "end": c["end"]} for c in item["citations"]]


def rubric_impact(files: dict[str, str] | None, directory: str | None, teams: list[str],
                  sample: int = IMPACT_SAMPLE) -> dict[str, Any]:
    """Flags gained and lost on the newest ``sample`` stored notes under the candidate rubric set."""
    from notereader.service.jobs import context

    ctx = context()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="notereader-impact-") as tmp:
        if files is not None:
            write_candidate(ctx.reader.ruleset.directory, files, Path(tmp))
            candidate = load_rubrics(Path(tmp))
        else:
            candidate = load_rubrics(Path(directory or ""))
    active = ctx.reader.ruleset
    before, after = active.provenance()["rubrics"], candidate.provenance()["rubrics"]
    changed = sorted(r for r in set(before) | set(after) if before.get(r) != after.get(r))
    reader = _candidate_readers.get(candidate.sha256)
    if reader is None:
        reader = ctx.reader.with_rubrics(candidate)
        _candidate_readers.clear()  # keep one candidate's compiled matrices, not every one ever asked for
        _candidate_readers[candidate.sha256] = reader
    with ctx.runtime.sessions() as session:
        latest = (select(NoteRevision.note_id, func.max(NoteRevision.revision).label("revision"))
                  .group_by(NoteRevision.note_id).subquery())
        q = (select(NoteRevision).join(latest, (latest.c.note_id == NoteRevision.note_id)
                                       & (latest.c.revision == NoteRevision.revision))
             .join(NoteRow, NoteRow.note_id == NoteRevision.note_id))
        if teams:
            q = q.where(NoteRow.team.in_(teams))
        total = session.scalar(select(func.count()).select_from(q.subquery()))
        revisions = session.scalars(q.order_by(NoteRevision.written_at.desc(), NoteRevision.id.desc()).limit(sample)).all()
        gained: list[dict[str, Any]] = []
        lost: list[dict[str, Any]] = []
        checked = 0
        for rev in revisions:
            body = session.scalar(select(Analysis.body).where(Analysis.revision_id == rev.id)
                                  .order_by(Analysis.id.desc()).limit(1))
            if body is None:
                continue
            checked += 1
            old, new = _risks(json.loads(body)), _risks(reader.analyze(_note(rev)))
            base = {"note_id": rev.note_id, "revision_id": rev.id, "team": rev.note.team}
            for rid in sorted(set(new) - set(old)):
                gained.append(base | {"rubric_id": rid, "severity": new[rid]["severity"], "citations": _cites(new[rid])})
            for rid in sorted(set(old) - set(new)):
                lost.append(base | {"rubric_id": rid, "severity": old[rid]["severity"], "citations": _cites(old[rid])})
    return {"active_ruleset_sha256": active.sha256, "candidate_ruleset_sha256": candidate.sha256,
            "changed_rubrics": changed, "notes_in_scope": total, "notes_checked": checked, "sample_limit": sample,
            "gained": gained, "lost": lost, "seconds": round(time.monotonic() - started, 1)}


def enqueue_rerun(rt: Runtime, analysis_id: int) -> str:
    job_id = f"rerun-{analysis_id}-{secrets.token_hex(6)}"
    rt.queue.enqueue("notereader.service.whatif.rerun_check", analysis_id, job_id=job_id, result_ttl=RESULT_TTL_SECONDS,
                     job_timeout=rt.settings.analysis_job_timeout_seconds, description=f"re-run check of analysis {analysis_id}")
    return job_id


def enqueue_impact(rt: Runtime, files: dict[str, str] | None, directory: str | None, teams: list[str]) -> str:
    job_id = f"impact-{secrets.token_hex(8)}"
    rt.queue.enqueue("notereader.service.whatif.rubric_impact", files, directory, teams, job_id=job_id,
                     result_ttl=RESULT_TTL_SECONDS, job_timeout=IMPACT_TIMEOUT_SECONDS,
                     description="rubric impact of an edited rubric set")
    return job_id


def job_state(rt: Runtime, job_id: str) -> tuple[str, Any]:
    """(status, result): status is queued, started, finished, failed or missing."""
    from rq.exceptions import NoSuchJobError

    try:
        job = Job.fetch(job_id, connection=rt.redis)
    except NoSuchJobError:
        return "missing", None
    status = job.get_status(refresh=True)
    status_name = getattr(status, "value", str(status))
    if status_name == "finished":
        return "finished", job.return_value()
    if status_name == "failed":
        exc = (job.latest_result().exc_string or "") if job.latest_result() else ""
        return "failed", exc.strip().splitlines()[-1] if exc.strip() else "the job failed"
    return status_name, None
