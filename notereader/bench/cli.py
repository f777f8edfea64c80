"""``notereader bench``: run the benchmarks and print the figures (or JSON)."""

from __future__ import annotations

import argparse
import json
import platform
from typing import Any

from notereader.version import ENGINE_VERSION


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure throughput, latency, memory and rescore time on a generated corpus",
                       description="Benchmarks on a deterministic generated corpus (never the dev corpus). "
                                   "Figures depend on the machine: the report includes its core count.")
    from notereader.bench.service import add_service_arguments

    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--notes", type=int, default=300, metavar="N", help="notes per pipeline throughput run (default 300)")
    p.add_argument("--model", metavar="NAME", help="pinned model for the pipeline group (default: $NOTEREADER_MODEL "
                   "or the engine's default); the reference always measures every pinned model's encoder")
    p.add_argument("--group", choices=["pipeline", "service"],
                   help="run one group only: pipeline (in-process) or service (API, Redis, store, workers)")
    add_service_arguments(p)


def _print_service(sv: dict[str, Any]) -> None:
    print(f"service ({sv.get('database')}):")
    ing = sv.get("ingest")
    if ing:
        print(f"  ingest ({ing['api_processes']} API process(es), {ing['concurrency']} clients): {ing['posts_per_s']} POST/s "
              f"accepted ({ing['persisted']}/{ing['notes']} persisted), "
              f"POST p50 {ing['post_latency']['p50_ms']} ms p95 {ing['post_latency']['p95_ms']} ms; "
              f"API CPU {ing['cpu_ms_per_post']['api']} ms/POST; API peak RSS {ing['memory']['api']['peak_rss_mib']} MiB")
    e2e = sv.get("e2e")
    if e2e:
        kind = sv.get("e2e_corpus", {}).get("kind", "mix")
        print(f"  end to end ({e2e['latency_definition']}; {kind} notes), each load sent for {e2e['seconds_per_load']} s:")
        for run in e2e["runs"]:
            lat = run["latency_store"]
            print(f"    {run.get('workers')} worker(s) at {run['offered_per_s']}/s: p50 {lat['p50_ms']} ms "
                  f"p95 {lat['p95_ms']} ms p99 {lat['p99_ms']} ms; max queue depth {run['queue_depth']['max']}; "
                  f"{run['analysed_per_s']} analysed/s")
        for w in e2e["memory"]["workers"]:
            print(f"    worker peak RSS {w['peak_rss_mib']} MiB")
    rs = sv.get("rescore")
    if rs:
        print(f"  rescore: {rs['analysed']}/{rs['notes']} notes on the new rubrics in {rs['seconds']} s ({rs['notes_per_s']} notes/s) "
              f"after a version bump of {rs['rubric']}")


def _print(result: dict[str, Any]) -> None:
    p = result.get("pipeline")
    print(f"notereader {ENGINE_VERSION} bench on {result['machine']['cpu_count']} cores ({result['machine']['python']})")
    if p:
        c = p["corpus"]
        print(f"corpus: {c['notes']} notes, {c['under_200_words']:.0%} <200 words, {c['200_to_600_words']:.0%} 200-600, "
              f"{c['over_600_words']:.0%} >600; {c['distinct_sentence_share']:.0%} of sentences distinct")
        cs = p["cold_start"]
        print(f"cold start: first result after {cs['time_to_first_result_s']} s (imports {cs['import_s']} s, "
              f"model verify+load+rubrics {cs['load_verify_compile_s']} s); worker peak RSS {cs['peak_rss_mb']} MB")
        for label, t in p["throughput"].items():
            for run in t["runs"]:
                print(f"throughput {label} batch {run['batch_size']:>2}: {run['notes_per_s']} notes/s, "
                      f"{run['sentences_per_s']} sentences/s ({run['notes']} notes, {t['mean_words']} words mean)")
        r = p["reference"]
        rates = "; ".join(f"{k} {v}" for k, v in r["embedder_sentences_per_s"].items())
        print(f"reference: sentence-transformers fp32 batch 32 {r['sentence_transformers_fp32_sentences_per_s']} sentences/s; "
              f"encoders alone (sentences/s): {rates}; "
              f"pipeline ({p['model']}) = {p['pipeline_vs_fp32_reference']:.0%} of the sentence-transformers rate")
        for prof in p.get("encoder_profile", []):
            ops = ", ".join(f"{k} {v:.0%}" for k, v in prof["op_share"].items())
            print(f"encoder profile {prof['model']} (one thread, {prof['sentences']} sentences, {prof['tokens']} tokens): "
                  f"{prof['kernel_seconds_one_thread']} s, {prof['dense_gflop_per_s_one_thread']} dense GFLOP/s; {ops}")
    if "service" in result:
        _print_service(result["service"])


def cmd_bench(args: argparse.Namespace) -> int:
    import os

    result: dict[str, Any] = {"engine_version": ENGINE_VERSION,
                              "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                                          "platform": platform.platform()}}
    if args.group in (None, "pipeline"):
        from notereader.bench.pipeline import run_pipeline_benches

        result["pipeline"] = run_pipeline_benches(smoke=args.smoke, notes=args.notes, model=args.model)
    if args.group in (None, "service"):
        from notereader.bench.service import run_service_benches

        result["service"] = run_service_benches(args)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        _print(result)
    return 0
