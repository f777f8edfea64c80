"""``notereader rubrics test``: every rubric's examples through the whole pipeline.

A ``flag`` example must raise its rubric; a ``no_flag`` example must not.
Every failure is reported with the rubric file, the example and what the
pipeline did instead (its score, or the cue that suppressed it).
"""

from __future__ import annotations

from pathlib import Path

from notereader.notes import Note
from notereader.reader import Reader
from notereader.rubrics.schema import load_rubrics


def run_examples(directory: Path, reader: Reader | None = None) -> tuple[list[str], int]:
    ruleset = load_rubrics(directory)
    reader = reader.with_rubrics(ruleset) if reader is not None else Reader(ruleset)
    jobs = []
    for r in ruleset.rubrics:
        for i, ex in enumerate(r.examples_flag):
            jobs.append((r, "flag", i, ex))
        for i, ex in enumerate(r.examples_no_flag):
            jobs.append((r, "no_flag", i, ex))
    notes = [Note(f"{r.id}:{kind}:{i}", ex) for r, kind, i, ex in jobs]
    failures = []
    for (r, kind, i, ex), a in zip(jobs, reader.analyze_many(notes, batch_size=64)):
        found = {x["rubric_id"]: x for x in a["risks"] + a["themes"]}
        raised = r.id in found
        if kind == "flag" and not raised:
            why = [s for s in a["suppressed"] if s["rubric_id"] == r.id]
            detail = (f"suppressed as {why[0]['reason']} by cue {why[0]['cue']!r}" if why
                      else "no phrase matched and the meaning score stayed below the threshold")
            failures.append(f"{r.path}: examples.flag[{i}] did not raise {r.id}: {detail}\n    {ex}")
        elif kind == "no_flag" and raised:
            q = found[r.id]["citations"][0]["quote"]
            failures.append(f"{r.path}: examples.no_flag[{i}] raised {r.id} (score {found[r.id]['score']}) on {q!r}\n    {ex}")
    return failures, len(jobs)
