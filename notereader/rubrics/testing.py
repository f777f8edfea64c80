"""``notereader rubrics test``: every rubric's examples through the whole pipeline.

A ``flag`` example must raise its rubric; a ``no_flag`` example must not.
Every failure is reported with the rubric file, the example and what the
pipeline did instead (its score, or the cue that suppressed it).

A rubric's ``known_failures`` name examples the engine is known to get
wrong, each with the reason. They are reported apart, as known, so that a
new failure stands out; one that passes is a failure of its own ("remove the
entry"), so that the list never hides a fixed example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from notereader.notes import Note
from notereader.reader import Reader
from notereader.rubrics.schema import load_rubrics


@dataclass
class ExampleReport:
    total: int = 0
    failures: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)  # failed as a rubric's known_failures says, with the reason


def run_examples(directory: Path, reader: Reader | None = None) -> ExampleReport:
    ruleset = load_rubrics(directory)
    reader = reader.with_rubrics(ruleset) if reader is not None else Reader(ruleset)
    jobs = []
    for r in ruleset.rubrics:
        for i, ex in enumerate(r.examples_flag):
            jobs.append((r, "flag", i, ex))
        for i, ex in enumerate(r.examples_no_flag):
            jobs.append((r, "no_flag", i, ex))
    notes = [Note(f"{r.id}:{kind}:{i}", ex) for r, kind, i, ex in jobs]
    known_by_rubric = {r.id: dict(r.known_failures) for r in ruleset.rubrics}
    report = ExampleReport(total=len(jobs))
    for (r, kind, i, ex), a in zip(jobs, reader.analyze_many(notes, batch_size=64)):
        found = {x["rubric_id"]: x for x in a["risks"] + a["themes"]}
        raised = r.id in found
        failure = None
        if kind == "flag" and not raised:
            why = [s for s in a["suppressed"] if s["rubric_id"] == r.id]
            detail = (f"suppressed as {why[0]['reason']} by cue {why[0]['cue']!r}" if why
                      else "no phrase matched and the meaning score stayed below the threshold")
            failure = f"{r.path}: examples.flag[{i}] did not raise {r.id}: {detail}\n    {ex}"
        elif kind == "no_flag" and raised:
            q = found[r.id]["citations"][0]["quote"]
            via = f" through implied_by {found[r.id]['implied_by']}" if "implied_by" in found[r.id] else ""
            failure = (f"{r.path}: examples.no_flag[{i}] raised {r.id}{via} (score {found[r.id]['score']}) "
                       f"on {q!r}\n    {ex}")
        known = known_by_rubric[r.id].get(f"{kind}[{i}]")
        if failure is not None and known is not None:
            report.known.append(f"{failure}\n    known: {known}")
        elif failure is not None:
            report.failures.append(failure)
        elif known is not None:
            report.failures.append(f"{r.path}: examples.{kind}[{i}] now passes but is listed under known_failures: "
                                   f"remove known_failures.{kind}[{i}]\n    {ex}")
    return report
