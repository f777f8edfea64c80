"""Where an encoder's time goes: an ONNX model operator by operator (onnxruntime's own profiler), the exact
int8 encoder stage by stage (``profile_exact``).

The typical notes' distinct sentences are run through the model exactly as the
embedder runs them (no padding; same-length runs where the model allows it),
on one thread with onnxruntime's profiler on. The report gives each operator
type's share of kernel time and the encoder's dense arithmetic rate: the
floating-point operations of the weight products (2 x rows x columns of every
weight matrix, per token) divided by the kernel time. On the 2-core
development machine the float32 model spends ~88% of its time in MatMul at
~83 GFLOP/s on one core, close to what one AVX2 core can do (2 FMA units x 8
lanes x 2 operations per cycle, ~96 GFLOP/s at 3 GHz): the float32 encoder
cannot be made much faster there, only asked to do fewer operations.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

WEIGHT_PRODUCTS = ("MatMul", "QLinearMatMul", "MatMulInteger", "Gemm")


def dense_flops_per_token(fp32_model: Path) -> int:
    """2 x K x N summed over every weight matrix product of the float32 graph."""
    import onnx

    graph = onnx.load(str(fp32_model)).graph
    weights = {init.name: tuple(init.dims) for init in graph.initializer}
    total = 0
    for node in graph.node:
        if node.op_type in WEIGHT_PRODUCTS:
            for name in node.input:
                dims = weights.get(name)
                if dims is not None and len(dims) == 2:
                    total += 2 * dims[0] * dims[1]
    return total


def _model_flops_per_token(embedder: Any) -> int:
    """The dense operations per token of the model every variant computes, counted on its float32 graph."""
    from notereader.pipeline.embedder import FP32_MODEL, ModelManifest
    from notereader.pipeline.onnx_model import ensure_built

    fp32 = ModelManifest.read(FP32_MODEL, embedder.manifest.manifest_path.parent)
    return dense_flops_per_token(ensure_built(fp32, fp32.base))


def profile_encoder(embedder: Any, texts: list[str]) -> dict[str, Any]:
    """Operator shares and the dense arithmetic rate of ``embedder``'s ONNX model on ``texts`` (one thread)."""
    import onnxruntime as ort

    from notereader.pipeline.onnx_model import ensure_built

    manifest = embedder.manifest
    path = ensure_built(manifest, embedder.base)
    flops_per_token = _model_flops_per_token(embedder)
    ids = embedder._ids(sorted(set(texts)))
    runs = embedder._runs(ids)
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "ort")
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for members in runs:
            batch = np.array([ids[i] for i in members], dtype=np.int64)
            session.run(None, {"input_ids": batch, "attention_mask": np.ones_like(batch),
                               "token_type_ids": np.zeros_like(batch)})
        events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    per_op: Counter[str] = Counter()
    for e in events:
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += int(e["dur"])
    kernel_us = sum(per_op.values()) or 1
    tokens = sum(len(i) for i in ids)
    return {
        "model": manifest.name,
        "sentences": len(ids),
        "runs": len(runs),
        "tokens": tokens,
        "kernel_seconds_one_thread": round(kernel_us / 1e6, 3),
        "op_share": {**{op: round(us / kernel_us, 3) for op, us in per_op.most_common(8)},
                     "other": round(sum(us for _op, us in per_op.most_common()[8:]) / kernel_us, 3)},
        "dense_gflop_per_token": round(flops_per_token / 1e9, 4),
        "dense_gflop_per_s_one_thread": round(flops_per_token * tokens / (kernel_us / 1e6) / 1e9, 1),
    }


def profile_exact(embedder: Any, texts: list[str]) -> dict[str, Any]:
    """Stage shares and the dense arithmetic rate of the exact int8 encoder on ``texts`` (one thread).

    The same runs are then timed once more with numpy's float32 product for the integer products
    (``ExactInt8Network(integer_kernel=False)``): the two give the same bytes, so the difference is
    what onnxruntime's integer kernel saves on this CPU.
    """
    import time

    from notereader.pipeline.exact_int8 import INTEGER_STAGE, ExactInt8Network

    flops_per_token = _model_flops_per_token(embedder)
    ids = embedder._ids(sorted(set(texts)))
    runs = embedder._runs(ids)
    stages: dict[str, float] = {}
    started = time.perf_counter()
    for members in runs:
        embedder.network.hidden_batch([ids[i] for i in members], stages=stages)
    seconds = time.perf_counter() - started
    numpy_products = ExactInt8Network(embedder._model_file(), integer_kernel=False)
    numpy_stages: dict[str, float] = {}
    started = time.perf_counter()
    for members in runs:
        numpy_products.hidden_batch([ids[i] for i in members], stages=numpy_stages)
    numpy_seconds = time.perf_counter() - started
    tokens = sum(len(i) for i in ids)
    return {
        "model": embedder.manifest.name,
        "integer_kernel": embedder.network.integer_kernel,
        "sentences": len(ids),
        "runs": len(runs),
        "tokens": tokens,
        "kernel_seconds_one_thread": round(seconds, 3),
        "op_share": {**{name: round(t / seconds, 3) for name, t in sorted(stages.items(), key=lambda kv: -kv[1])},
                     "other (embedding, reshapes, Python)": round(1 - sum(stages.values()) / seconds, 3)},
        "dense_gflop_per_token": round(flops_per_token / 1e9, 4),
        "dense_gflop_per_s_one_thread": round(flops_per_token * tokens / seconds / 1e9, 1),
        "with_numpy_integer_products": {
            "kernel_seconds_one_thread": round(numpy_seconds, 3),
            "integer_products_seconds": round(numpy_stages.get(INTEGER_STAGE, 0.0), 3),
            "integer_products_seconds_with_kernel": round(stages.get(INTEGER_STAGE, 0.0), 3),
        },
    }
