"""The pipeline benchmarks keep working (tiny sizes; figures are not asserted: benchmarks are commands)."""

from __future__ import annotations

import pytest

from notereader.bench.corpus import build_corpus, describe


def test_corpus_is_deterministic_with_the_real_length_mix():
    a, b = build_corpus(500), build_corpus(500)
    assert a == b
    d = describe(build_corpus(2000))
    assert d["notes"] == 2000
    assert abs(d["under_200_words"] - 0.6) < 0.05 and abs(d["200_to_600_words"] - 0.3) < 0.05
    assert abs(d["over_600_words"] - 0.1) < 0.03
    assert d["distinct_sentence_share"] > 0.85  # boilerplate does not inflate cache hits


@pytest.mark.slow
def test_pipeline_bench_smoke(reader):
    from notereader.bench.pipeline import run_pipeline_benches

    result = run_pipeline_benches(smoke=True, reader=reader)
    assert result["cold_start"]["time_to_first_result_s"] > 0 and result["cold_start"]["peak_rss_mb"] > 0
    for label in ("typical_under_200_words", "length_mix"):
        runs = result["throughput"][label]["runs"]
        assert [r["batch_size"] for r in runs] == [1, 32] and all(r["notes"] == 12 and r["notes_per_s"] > 0 for r in runs)
    assert result["reference"]["distinct_sentences"] > 0 and result["pipeline_vs_fp32_reference"] > 0
    (prof,) = result["encoder_profile"]
    assert prof["model"] == result["model"] and prof["tokens"] > prof["sentences"] > 0
    assert abs(sum(prof["op_share"].values()) - 1.0) < 0.05 and prof["dense_gflop_per_s_one_thread"] > 0
    numpy_products = prof["with_numpy_integer_products"]  # the same runs with numpy's product, for comparison
    assert numpy_products["kernel_seconds_one_thread"] > 0 and numpy_products["integer_products_seconds"] > 0


def test_dense_flops_of_the_float32_encoder():
    from notereader.bench.encoder_profile import dense_flops_per_token
    from notereader.pipeline.embedder import FP32_MODEL, ModelManifest
    from notereader.pipeline.onnx_model import ensure_built

    m = ModelManifest.read(FP32_MODEL)
    # MiniLM-L6: 6 layers of 4 x (384 x 384) attention and 2 x (384 x 1536) feed-forward weights
    assert dense_flops_per_token(ensure_built(m, m.base)) == 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536)
