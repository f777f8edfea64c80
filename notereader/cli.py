"""The ``notereader`` command line.

    notereader analyze --jsonl IN.jsonl [--out FILE] [--batch-size N]
    notereader analyze NOTE.txt                 readable report with highlights
    notereader context --jsonl IN.jsonl         the assertion stage on its own
    notereader eval CORPUS.jsonl [--json]       score against TAXONOMY gold
    notereader eval-goals CORPUS.jsonl... [--vary NAME=V1,V2]...  goal direction under other goal settings
    notereader eval-context NEGEX.tsv [--json [--errors]]  score the assertion stage
    notereader demo                             the bundled sample notes, stored and analysed
    notereader rubrics lint|test|lock|calibrate [--rubrics DIR]
    notereader db upgrade | serve | worker | tokens create | audit verify | sweep
                                                the service (see notereader.service_cli)
    notereader bench [--json] [--smoke]         benchmarks on a generated corpus
    notereader rescore [--rubric-id ID] [--since T] [--wait]   rescore stored notes on the active rubrics

Exit codes: 0 ok, 1 a check failed (lint, test), 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from notereader import rescore_cli, service_cli
from notereader.bench import cli as bench_cli
from notereader.errors import NotereaderError, ProblemList


def _add_rubrics_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rubrics", metavar="DIR", help="rubric directory (default: $NOTEREADER_RUBRICS_DIR or ./rubrics of the checkout)")


def _add_threads_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None, metavar="N", help="encoder CPU threads (results do not depend on it)")
    p.add_argument("--model", default=None, metavar="NAME",
                   help="pinned model under models/ (default: $NOTEREADER_MODEL or the engine's default); "
                        "another model gives other results")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notereader",
        description="Deterministic case-note analysis: risk flags, themes and goal signals, each with the exact sentences behind it.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("analyze", help="analyse notes: a JSONL file to Analysis v1 JSONL, or one text file to a readable report",
                       description="Analyse notes. With --jsonl, read one note per line ({note_id, text, plan?: {goals: [{goal_id, text}]}}) "
                                   "and write one Analysis v1 JSON object per line. With a .txt file, print a readable report.")
    p.add_argument("note", nargs="?", help="a plain-text note file for a readable report")
    p.add_argument("--jsonl", metavar="IN.jsonl", help="notes, one JSON object per line")
    p.add_argument("--out", metavar="FILE", help="write the analyses here (default: standard output); written whole or not at all")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="notes per embedding batch (results do not depend on it)")
    _add_rubrics_arg(p)
    _add_threads_arg(p)

    p = sub.add_parser("context", help="run only the assertion-context stage on {text, target} or {text, start, end} lines",
                       description="For each JSON line {text, target} or {text, start, end}, print "
                                   "{negated, historical, hypothetical, other_person, resolved, screening_negative, cues}.")
    p.add_argument("--jsonl", required=True, metavar="IN.jsonl")

    p = sub.add_parser("eval", help="score the reader against annotated corpora (TAXONOMY.md format)",
                       description="Score the reader against one or more annotated corpora. Every corpus is "
                                   "checked before any note is read; with several, the model is loaded once, "
                                   "each corpus gets its own report, and a table compares them.")
    p.add_argument("corpus", metavar="CORPUS.jsonl", nargs="+")
    p.add_argument("--json", action="store_true",
                   help="print the figures as JSON (with several corpora: {corpora: {path: figures}, provenance})")
    p.add_argument("--errors", action="store_true", help="with --json, include every error for inspection")
    p.add_argument("--batch-size", type=int, default=32, metavar="N")
    _add_rubrics_arg(p)
    _add_threads_arg(p)

    p = sub.add_parser("eval-goals", help="goal-direction accuracy under other goal-matching settings (engine development)",
                       description="Run the pipeline once per annotated corpus, then redo only goal matching for each "
                                   "value tried, and print goal-direction accuracy per corpus and pooled, against the "
                                   "present settings. Without --vary, each setting is tried a step either side of its "
                                   "present value. A better value is a candidate only: adopting it changes results "
                                   "(an engine version), and it was chosen on the corpora measured here.")
    p.add_argument("corpus", metavar="CORPUS.jsonl", nargs="+")
    p.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2",
                   help="a goal setting and the values to try, e.g. margin=0.05,0.15 (repeatable; names are the "
                        "fields of notereader.pipeline.goals.GoalSettings, or their constants, in any case)")
    p.add_argument("--json", action="store_true", help="print the present settings and every trial as JSON")
    p.add_argument("--batch-size", type=int, default=32, metavar="N")
    _add_rubrics_arg(p)
    _add_threads_arg(p)

    p = sub.add_parser("eval-context", help="score the assertion stage on a NegEx/ConText-format test set")
    p.add_argument("path", metavar="NEGEX.tsv")
    p.add_argument("--json", action="store_true")
    p.add_argument("--errors", action="store_true",
                   help="with --json, list every row and axis where the stage disagrees with the annotation")

    p = sub.add_parser("demo", help="store and analyse the bundled sample notes (SQLite by default), print findings and the risk queue",
                       description="Store the bundled sample notes in the database at NOTEREADER_DATABASE_URL "
                                   "(default ./notereader.db), analyse them, and print what was found and the risk queue.")
    _add_rubrics_arg(p)

    p = sub.add_parser("rubrics", help="lint, test, lock and calibrate rubric files")
    rsub = p.add_subparsers(dest="rubrics_command", required=True, metavar="ACTION")
    for name, help_text in (
        ("lint", "check every rubric file against the schema and the lock file; report every problem at once"),
        ("test", "run every rubric's flag and no_flag examples through the whole pipeline; report every failure "
                 "(examples under a rubric's known_failures are reported apart, and fail once they pass)"),
        ("lock", "record each rubric's id, version and content hash in rubrics.lock"),
        ("calibrate", "propose a threshold per rubric from its examples (cross-validated precision-recall curve)"),
    ):
        rp = rsub.add_parser(name, help=help_text, description=help_text)
        _add_rubrics_arg(rp)
        if name == "calibrate":
            rp.add_argument("--write", action="store_true", help="write the proposed thresholds into the rubric files (and bump their versions)")
    service_cli.add_parsers(sub)
    bench_cli.add_parser(sub)
    rescore_cli.add_parser(sub)
    return parser


def _write_atomic(path: str | None, lines: list[str]) -> None:
    if path is None:
        sys.stdout.write("".join(lines))
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent or Path("."), prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_analyze(args: argparse.Namespace) -> int:
    from notereader.analysis import canonical_json
    from notereader.notes import read_jsonl
    from notereader.reader import Reader

    if bool(args.jsonl) == bool(args.note):
        print("notereader analyze: give either --jsonl IN.jsonl or one NOTE.txt file", file=sys.stderr)
        return 2
    if args.batch_size < 1:
        print("notereader analyze: --batch-size must be at least 1", file=sys.stderr)
        return 2
    if args.jsonl:
        notes = read_jsonl(Path(args.jsonl))
        reader = Reader(args.rubrics, num_threads=args.threads, model=args.model)
        lines = [canonical_json(a) + "\n" for a in reader.analyze_many(notes, batch_size=args.batch_size)]
        _write_atomic(args.out, lines)
        return 0
    from notereader.report import render_report
    from notereader.notes import validate_note

    path = Path(args.note)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        print(f"notereader analyze: {path}: cannot be read: {exc.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(f"notereader analyze: {path}: is not valid UTF-8 (byte {exc.start}); save it as UTF-8", file=sys.stderr)
        return 2
    note, problems = validate_note({"note_id": path.stem, "text": text}, str(path))
    if note is None:
        raise ProblemList(problems)
    reader = Reader(args.rubrics, num_threads=args.threads, model=args.model)
    analysis = reader.analyze(note)
    report = render_report(note.text, analysis, color=sys.stdout.isatty())
    _write_atomic(args.out, [report])
    return 0


def cmd_context(args: argparse.Namespace) -> int:
    from notereader.errors import InputError, Problem
    from notereader.notes import iter_json_objects
    from notereader.pipeline.context_eval import ContextTagger, locate

    tagger = ContextTagger()
    problems = []
    jobs = []
    for lineno, obj in iter_json_objects(Path(args.jsonl)):
        where = args.jsonl
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            problems.append(Problem(where, lineno, "text", "is required: a string"))
            continue
        text = obj["text"]
        if isinstance(obj.get("target"), str) and obj["target"]:
            if obj["target"].lower() not in text.lower():
                problems.append(Problem(where, lineno, "target", "does not occur in text"))
                continue
            s, e = locate(text, obj["target"])
        elif isinstance(obj.get("start"), int) and isinstance(obj.get("end"), int):
            s, e = obj["start"], obj["end"]
            if not 0 <= s < e <= len(text):
                problems.append(Problem(where, lineno, "start/end", f"must satisfy 0 <= start < end <= {len(text)}"))
                continue
        else:
            problems.append(Problem(where, lineno, "target", "give either target (a substring) or start and end offsets"))
            continue
        jobs.append((text, s, e))
    if problems:
        raise InputError(problems)
    for text, s, e in jobs:
        sys.stdout.write(json.dumps(tagger.tag(text, s, e), sort_keys=True) + "\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from notereader.evaluate import format_comparison, format_report, read_corpora, score
    from notereader.reader import Reader

    corpora = read_corpora([Path(c) for c in args.corpus])
    reader = Reader(args.rubrics, num_threads=args.threads, model=args.model)
    results: dict[str, dict] = {}
    for path, corpus in corpora.items():
        analyses = list(reader.analyze_many([n for n, _g in corpus], batch_size=args.batch_size))
        results[path] = score(corpus, analyses, keep_errors=args.errors)
    provenance = reader.provenance | {"ruleset": {"sha256": reader.ruleset.sha256}}
    if len(results) == 1:
        [result] = results.values()
        result["provenance"] = provenance
        print(json.dumps(result, indent=2, sort_keys=True) if args.json else format_report(result))
        return 0
    if args.json:
        print(json.dumps({"corpora": results, "provenance": provenance}, indent=2, sort_keys=True))
        return 0
    for path, result in results.items():
        print(f"== {path}")
        print(format_report(result))
        print()
    print(format_comparison(results))
    return 0


def cmd_eval_goals(args: argparse.Namespace) -> int:
    from notereader.evaluate import read_corpora
    from notereader.evaluate_goals import DEFAULT_GRID, format_table, parse_vary, sweep, to_json
    from notereader.reader import Reader

    grid = parse_vary(args.vary) if args.vary else DEFAULT_GRID
    corpora = read_corpora([Path(c) for c in args.corpus])
    reader = Reader(args.rubrics, num_threads=args.threads, model=args.model)
    trials = sweep(reader, corpora, grid, batch_size=args.batch_size)
    if args.json:
        print(json.dumps(to_json(trials) | {"provenance": reader.provenance | {"ruleset": {"sha256": reader.ruleset.sha256}}},
                         indent=2, sort_keys=True))
    else:
        print(format_table(trials))
    return 0


def cmd_eval_context(args: argparse.Namespace) -> int:
    from notereader.pipeline.context_eval import evaluate

    result = evaluate(Path(args.path), errors=10**9 if args.errors else 0)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(f"rows {result['rows']}  all-axes exact accuracy {result['all_axes_exact_accuracy']}")
        for ax in ("negated", "historical", "hypothetical", "other_person"):
            v = result[ax]
            print(f"  {ax:13s} P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  (n={v['support']})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import json as _json

    from notereader.paths import SAMPLE_NOTES
    from notereader.reader import Reader
    from notereader.report import render_summary
    from notereader.service.demo import risk_queue_lines, run_demo
    from notereader.service_cli import load_settings

    settings = load_settings()
    records = [_json.loads(line) for line in SAMPLE_NOTES.read_text(encoding="utf-8").splitlines() if line.strip()]
    reader = Reader(args.rubrics)
    print(f"notereader demo: {len(records)} bundled sample notes, {len(reader.ruleset.rubrics)} rubrics "
          f"(ruleset {reader.ruleset.sha256[:12]}), model {reader.embedder.manifest.name}, "
          f"store {settings.database_url}\n")
    for rec, analysis in run_demo(records, reader, settings):
        print(render_summary(rec["text"], analysis))
    print("Risk queue (open flags, most severe first, newest note first):")
    for line in risk_queue_lines(settings, [r["note_id"] for r in records], {r.id: r.title for r in reader.ruleset.rubrics}):
        print(line)
    print("\nBrowse the same store through the API: `notereader serve`, then http://127.0.0.1:8000/docs")
    return 0


def cmd_rubrics(args: argparse.Namespace) -> int:
    from notereader.paths import rubrics_dir

    directory = rubrics_dir(args.rubrics)
    if args.rubrics_command == "lint":
        from notereader.rubrics.lint import lint

        problems = lint(directory)
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s) in {directory}" if problems else f"ok: {directory}")
        return 1 if problems else 0
    if args.rubrics_command == "lock":
        from notereader.rubrics.lock import write_lock
        from notereader.rubrics.schema import load_rubrics

        path = write_lock(load_rubrics(directory), directory)
        print(f"wrote {path}")
        return 0
    if args.rubrics_command == "test":
        from notereader.rubrics.testing import run_examples

        report = run_examples(directory)
        for f in report.failures:
            print(f)
        if report.known:
            print(f"known failures ({len(report.known)}), each listed under its rubric's known_failures:")
            for f in report.known:
                print(f)
        passed = report.total - len(report.failures) - len(report.known)
        print(f"{passed} passed, {len(report.failures)} failed, {len(report.known)} known failures")
        return 1 if report.failures else 0
    if args.rubrics_command == "calibrate":
        from notereader.rubrics.calibrate import calibrate

        for line in calibrate(directory, write=args.write):
            print(line)
        return 0
    return 2


COMMANDS = {"analyze": cmd_analyze, "context": cmd_context, "eval": cmd_eval, "eval-goals": cmd_eval_goals,
            "eval-context": cmd_eval_context,
            "demo": cmd_demo, "rubrics": cmd_rubrics, **service_cli.COMMANDS, "bench": bench_cli.cmd_bench,
            "rescore": rescore_cli.cmd_rescore}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ProblemList, NotereaderError) as exc:
        print(f"notereader {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
