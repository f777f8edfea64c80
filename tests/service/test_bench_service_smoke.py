"""The service benchmarks' smoke run (tiny sizes) keeps working, and its counts add up. No timing assertions."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.service, pytest.mark.slow]


def test_service_bench_smoke_runs_every_measurement_and_counts_add_up():
    from notereader.bench.service import run_service_benches

    result = run_service_benches({"smoke": True, "progress": False})

    assert result["machine"]["cpu_count"] >= 1
    ingest = result["ingest"]
    assert ingest["notes"] > 0
    assert ingest["accepted"] == ingest["persisted"] == ingest["notes"], ingest
    assert ingest["posts_per_s"] > 0
    assert ingest["memory"]["api"]["peak_rss_mib"] > 0

    e2e = result["e2e"]
    assert e2e["runs"], e2e
    for run in e2e["runs"]:
        assert run["drained"], run
        assert run["accepted"] == run["analysed"] == run["notes"] > 0, run
        assert set(run["latency_store"]) >= {"p50_ms", "p95_ms", "p99_ms"}
        assert run["latency_store"]["p50_ms"] is not None
        assert run["queue_depth"]["samples"] > 0 and run["queue_depth"]["series"]
    assert e2e["memory"]["api"]["peak_rss_mib"] > 0
    assert len(e2e["memory"]["workers"]) == max(result["options"]["e2e_workers"])
    assert all(w["peak_rss_mib"] > 0 for w in e2e["memory"]["workers"])

    rescore = result["rescore"]
    assert rescore["status"] == "finished"
    assert rescore["done"] == rescore["total"], rescore  # the rescore job finished what it listed
    assert rescore["analysed"] == rescore["notes"] > 0, rescore  # every stored note is on the new rubrics
    assert len(rescore["memory"]["workers"]) == rescore["workers"]
