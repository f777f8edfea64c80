"""The ONNX variants: built locally from the pinned weights, verified by hash, batch- and thread-invariant."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from notereader.errors import ModelIntegrityError
from notereader.pipeline.embedder import BASE_MODEL, DEFAULT_MODEL, FP32_MODEL, ModelManifest, sha256_file
from notereader.pipeline.onnx_model import ONNX_FILE, OnnxEmbedder, ensure_built, model_cache_dir

ROOT = Path(__file__).resolve().parent.parent
STATIC = "all-MiniLM-L6-v2-onnx-int8-static"  # the default model's weights (the default computes them exactly)
TEXTS = [
    "Client says the landlord changed the locks while she was at work.",
    "Worker dropped off a food box.",
    "He has not used since March and attends meetings twice a week.",
    "Ms. R asked about bus passes; the worker will check with the front desk.",
    "",
    "Ünïcode — résumé, naïve café; emoji 🙂 and a tab\there.",
]


@pytest.fixture(scope="module")
def fp32() -> OnnxEmbedder:
    m = ModelManifest.read(FP32_MODEL, ROOT / "models")
    return OnnxEmbedder(m, m.base, num_threads=1)


def test_the_int8_model_is_derived_from_the_pinned_weights():
    m = ModelManifest.read(STATIC, ROOT / "models")
    assert m.base is not None and m.base.name == BASE_MODEL and m.format == "onnx"
    assert m.base.files["model.safetensors"] == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    # the model hash covers the built file and the base model's files
    assert m.sha256 != m.base.sha256
    path = ensure_built(m, m.base)
    assert sha256_file(path) == m.files[ONNX_FILE]


def test_a_sentence_vector_depends_only_on_the_sentence(fp32):
    m = fp32.manifest
    one_by_one = OnnxEmbedder(m, m.base, num_threads=1)  # fresh encoders: nothing comes from a cache
    alone = {t: one_by_one.encode([t])[t] for t in TEXTS}
    together = OnnxEmbedder(m, m.base, num_threads=1).encode(reversed(TEXTS))
    two_threads = OnnxEmbedder(m, m.base, num_threads=2).encode(TEXTS)
    four_threads = OnnxEmbedder(m, m.base, num_threads=4).encode(TEXTS * 3)
    for t in TEXTS:
        assert alone[t].tobytes() == together[t].tobytes() == two_threads[t].tobytes() == four_threads[t].tobytes(), t
        assert alone[t].dtype == np.float64 and abs(float(alone[t] @ alone[t]) - 1.0) < 1e-12



@pytest.mark.parametrize("name", [FP32_MODEL, STATIC])
def test_sentences_of_one_length_share_a_run_and_keep_their_bytes(monkeypatch, name):
    """float32, and int8 whose activation scales were fixed at build time: no scale depends on batch-mates."""
    import notereader.pipeline.onnx_model as onnx_model

    m = ModelManifest.read(name, ROOT / "models")
    one = OnnxEmbedder(m, m.base, num_threads=1)
    # invented sentences, grouped by token length: every group of 3 or more is computed in shared runs
    words = ["rent", "court", "housing", "insulin", "school", "probation", "the food bank", "her caseworker"]
    made = [f"Client called about {a} and {b} on {day}." for a in words for b in words
            for day in ("Monday", "the 3rd", "Friday morning")]
    lengths: dict[int, list[str]] = {}
    for t in made:
        lengths.setdefault(len(one.tokenizer.encode(t).ids), []).append(t)
    groups = [g for g in lengths.values() if len(g) >= 3]
    assert len(groups) >= 3 and sum(map(len, groups)) >= 100
    sentences = [t for g in groups for t in g]
    alone = {t: one._vectors([one.tokenizer.encode(t).ids])[0] for t in sentences}  # one run per sentence
    e = OnnxEmbedder(m, m.base, num_threads=2)
    assert e.same_length_batches and max(map(len, e._runs([e.tokenizer.encode(t).ids for t in sentences]))) > 1
    for batch in (7, onnx_model.LENGTH_BATCH):  # other batch-mates, other run sizes
        monkeypatch.setattr(onnx_model, "LENGTH_BATCH", batch)
        e.clear_cache()
        shared = e.encode(sentences[::-1])
        assert all(shared[t].tobytes() == alone[t].tobytes() for t in sentences)


def test_the_sentence_cache_is_bounded_and_changes_nothing(monkeypatch, fp32):
    import notereader.pipeline.onnx_model as onnx_model

    monkeypatch.setattr(onnx_model, "CACHE_SENTENCES", 3)
    m = fp32.manifest
    e = OnnxEmbedder(m, m.base, num_threads=2)
    first = e.encode(TEXTS)
    assert len(e._cache) == 3
    again = e.encode(TEXTS)  # half from the cache, half computed again
    for t in TEXTS:
        assert first[t].tobytes() == again[t].tobytes()
    with pytest.raises(ValueError):
        again[TEXTS[-1]][0] = 0.0  # cached vectors are shared, so read-only


def test_fp32_vectors_match_the_float64_reference(fp32):
    from notereader.pipeline.embedder import Embedder

    ref = Embedder.load(BASE_MODEL, ROOT / "models").encode(TEXTS)
    got = fp32.encode(TEXTS)
    for t in TEXTS:
        assert float(got[t] @ ref[t]) > 0.99999, t


def test_a_tampered_build_is_rebuilt_and_verified(tmp_path, monkeypatch, fp32):
    monkeypatch.setenv("NOTEREADER_CACHE_DIR", str(tmp_path))
    m = fp32.manifest
    target = model_cache_dir(m.name) / ONNX_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a model")
    path = ensure_built(m, m.base)
    assert path == target and sha256_file(path) == m.files[ONNX_FILE]


def test_a_build_that_differs_from_the_pin_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEREADER_CACHE_DIR", str(tmp_path / "cache"))
    models = tmp_path / "models"
    models.mkdir()
    for f in (ROOT / "models").glob("*.json"):
        (models / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    data = json.loads((models / f"{FP32_MODEL}.json").read_text(encoding="utf-8"))
    data["files"][ONNX_FILE] = "0" * 64
    (models / f"{FP32_MODEL}.json").write_text(json.dumps(data), encoding="utf-8")
    m = ModelManifest.read(FP32_MODEL, models)
    # a real build, whose bytes cannot match the (wrong) pin: as if another tool version had built it
    with pytest.raises(ModelIntegrityError, match="refuses to run") as err:
        ensure_built(m, m.base)
    assert "pinned tool versions" in str(err.value) and "onnxruntime 1.31.1" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2-onnx-int8", "all-MiniLM-L6-v2-onnx-int8-pc"])
def test_int8_variants_are_distinct_pinned_models(name):
    m = ModelManifest.read(name, ROOT / "models")
    assert m.build["precision"] == "int8" and m.sha256 != ModelManifest.read(FP32_MODEL, ROOT / "models").sha256
    e = OnnxEmbedder(m, m.base, num_threads=1)
    # int8 activations share one quantisation scale per run: every sentence gets a run of its own
    assert not e.same_length_batches and e._runs([[1, 2, 3], [4, 5, 6]]) == [[0], [1]]
    alone = {t: e.encode([t])[t] for t in TEXTS}
    together = e.encode(TEXTS)
    assert all(alone[t].tobytes() == together[t].tobytes() for t in TEXTS)
    fp32 = OnnxEmbedder(*(lambda d: (d, d.base))(ModelManifest.read(FP32_MODEL, ROOT / "models")), num_threads=1)
    cos = [float(alone[t] @ fp32.encode([t])[t]) for t in TEXTS]
    # per tensor: ~0.96 to the float32 vectors; one scale per weight column: ~0.99
    assert min(cos) > (0.97 if m.build.get("per_channel") else 0.85), cos


def test_static_int8_supplies_the_default_and_is_a_distinct_pinned_model_close_to_float32():
    default = ModelManifest.read(DEFAULT_MODEL, ROOT / "models")
    assert default.build["weights_from"] == STATIC  # the default computes these weights exactly
    m = ModelManifest.read(STATIC, ROOT / "models")
    fp32_manifest = ModelManifest.read(FP32_MODEL, ROOT / "models")
    assert m.build["precision"] == "int8-static" and m.sha256 != fp32_manifest.sha256
    e = OnnxEmbedder(m, m.base, num_threads=2)
    assert e.same_length_batches
    fp32 = OnnxEmbedder(fp32_manifest, fp32_manifest.base, num_threads=1)
    got, ref = e.encode(TEXTS), fp32.encode(TEXTS)
    cos = [float(got[t] @ ref[t]) for t in TEXTS]
    # on the bench corpus's typical-note sentences: mean 0.993, min 0.975
    assert min(cos) > 0.97, cos


def _manifests_without_calibration(tmp_path: Path) -> tuple[Path, ModelManifest]:
    """A copy of models/ with the manifests only: the calibration files are missing until a test writes them."""
    models = tmp_path / "models"
    (models / "calibration").mkdir(parents=True)
    for f in (ROOT / "models").glob("*.json"):
        (models / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    return models, ModelManifest.read(STATIC, models)


def test_static_int8_refuses_a_changed_calibration_file(tmp_path):
    from notereader.pipeline.onnx_model import calibration_texts

    models, m = _manifests_without_calibration(tmp_path)
    with pytest.raises(ModelIntegrityError, match="calibration file .* is missing"):
        calibration_texts(m)
    source = (ROOT / "models" / m.build["calibration"]["file"]).read_text(encoding="utf-8")
    (models / m.build["calibration"]["file"]).write_text(source + "One more sentence.\n", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="not the pinned"):
        calibration_texts(m)
    (models / m.build["calibration"]["file"]).write_text(source, encoding="utf-8")
    assert len(calibration_texts(m)) == 3449


def test_static_int8_refuses_a_changed_ranges_file(tmp_path):
    from notereader.pipeline.onnx_model import calibration_ranges

    models, m = _manifests_without_calibration(tmp_path)
    with pytest.raises(ModelIntegrityError, match="calibration ranges file .* is missing"):
        calibration_ranges(m)
    ranges = json.loads((ROOT / "models" / m.build["calibration_ranges"]["file"]).read_text(encoding="utf-8"))
    name = sorted(ranges["data"])[0]
    ranges["data"][name]["highest"]["data"][0] *= 1.001
    (models / m.build["calibration_ranges"]["file"]).write_text(json.dumps(ranges, indent=1, sort_keys=True) + "\n",
                                                                encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="not the pinned"):
        calibration_ranges(m)


def test_the_static_build_runs_no_inference_so_every_cpu_builds_the_pinned_bytes(monkeypatch, tmp_path):
    """Calibrating on the build machine gave other bytes on an AVX-512 CPU than on an AVX2 one (float32 kernels
    differ in their last bits); the build now reads the pinned ranges and must not run the model at all."""
    import onnxruntime

    from notereader.pipeline.onnx_model import quantize_static_calibrated

    m = ModelManifest.read(STATIC, ROOT / "models")
    fp32_manifest = ModelManifest.read(FP32_MODEL, ROOT / "models")
    fp32_file = ensure_built(fp32_manifest, fp32_manifest.base)

    def no_inference(*_a, **_k):
        raise AssertionError("the static int8 build ran the model")

    monkeypatch.setattr(onnxruntime, "InferenceSession", no_inference)
    out = tmp_path / "model.onnx"
    quantize_static_calibrated(m, fp32_file, out, intermediate_size=1536)
    assert sha256_file(out) == m.files[ONNX_FILE]


@pytest.mark.slow
def test_the_pinned_ranges_are_the_calibration_of_the_pinned_sentences(tmp_path):
    """Recomputed here, the ranges agree with the committed file to float32 noise (bytes may differ by CPU)."""
    from transformers import AutoTokenizer

    from notereader.pipeline.onnx_model import calibration_ranges, compute_calibration_ranges

    m = ModelManifest.read(STATIC, ROOT / "models")
    fp32_manifest = ModelManifest.read(FP32_MODEL, ROOT / "models")
    fp32_file = ensure_built(fp32_manifest, fp32_manifest.base)
    tok = AutoTokenizer.from_pretrained(str(m.base.verify()), local_files_only=True)  # nosec B615 # verified local files
    out = tmp_path / "ranges.json"
    compute_calibration_ranges(m, fp32_file, tok, 1536, out)
    got = json.loads(out.read_text(encoding="utf-8"))["data"]
    pinned = json.loads(calibration_ranges(m).read_text(encoding="utf-8"))["data"]
    assert sorted(got) == sorted(pinned)
    for name in pinned:
        for end in ("lowest", "highest"):
            a, b = got[name][end]["data"][0], pinned[name][end]["data"][0]
            assert a == b or abs(a - b) <= 1e-4 * max(1.0, abs(b)), (name, end, a, b)  # a == b: -inf (masks)


def _quantised_weights(path: Path) -> dict[str, np.ndarray]:
    """Each QLinearMatMul's constant weights as real values, scale x (q - zero point), by weight name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        if node.op_type == "QLinearMatMul":
            b, scale, zp = (init[n] for n in node.input[3:6])
            out[node.input[3]] = (b.astype(np.int64) - zp.astype(np.int64)) * scale.astype(np.float64)
    return out


def test_the_default_model_stores_its_weights_unsigned_with_their_real_values_unchanged(tmp_path):
    """The build shifts int8 weights to uint8 (zero point 128): same real values, other integers."""
    import onnx
    from onnx import numpy_helper

    from notereader.pipeline.onnx_model import _quantize_static, calibration_ranges, unsigned_weights

    m = ModelManifest.read(STATIC, ROOT / "models")
    assert m.build["weights"] == "uint8"
    pinned = ensure_built(m, m.base)
    model = onnx.load(str(pinned))
    init = {t.name: t for t in model.graph.initializer}
    products = [n for n in model.graph.node if n.op_type == "QLinearMatMul"]
    assert len(products) == 30  # q, k, v, attention output and feed-forward input of 6 layers
    for node in products:
        for name in (node.input[3], node.input[5]):
            assert init[name].data_type == onnx.TensorProto.UINT8, name
        assert set(numpy_helper.to_array(init[node.input[5]]).tolist()) == {128}

    fp32_manifest = ModelManifest.read(FP32_MODEL, ROOT / "models")
    cache = tmp_path / "ranges.json"
    cache.write_bytes(calibration_ranges(m).read_bytes())
    signed = tmp_path / "signed.onnx"
    _quantize_static(ensure_built(fp32_manifest, fp32_manifest.base), signed, None, cache, 1536)
    assert unsigned_weights(signed, tmp_path / "unsigned.onnx") == 30
    before, after = _quantised_weights(signed), _quantised_weights(tmp_path / "unsigned.onnx")
    assert sorted(before) == sorted(after)
    for name in before:
        assert np.array_equal(before[name], after[name]), name


def _integer_product(a: np.ndarray, b: np.ndarray, a_zp: int, b_zp: np.ndarray) -> np.ndarray:
    """onnxruntime's integer matrix product (the kernel QLinearMatMul runs) of a and b on this CPU."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("MatMulInteger", ["A", "B", "A_zp", "B_zp"], ["Y"])
    graph = helper.make_graph(
        [node], "product", [helper.make_tensor_value_info("A", numpy_helper.from_array(a).data_type, list(a.shape))],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [a.shape[0], b.shape[1]])],
        [numpy_helper.from_array(b, "B"), numpy_helper.from_array(np.array(a_zp, a.dtype), "A_zp"),
         numpy_helper.from_array(b_zp, "B_zp")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"A": a})[0]


@pytest.mark.parametrize("name", [STATIC, pytest.param("all-MiniLM-L6-v2-onnx-int8", marks=pytest.mark.slow),
                                  pytest.param("all-MiniLM-L6-v2-onnx-int8-pc", marks=pytest.mark.slow)])
def test_an_int8_models_integer_products_are_exact_on_this_cpu(name):
    """With a pinned model's own weights and activations over the whole uint8 range, onnxruntime's integer
    products equal exact integer arithmetic, so they are the same on every CPU. (With the same weights as int8,
    a CPU without VNNI adds pairs of products in a saturating 16-bit integer and gets other sums.)"""
    import onnx
    from onnx import numpy_helper

    from notereader.pipeline.onnx_model import INTEGER_PRODUCTS

    m = ModelManifest.read(name, ROOT / "models")
    assert m.build["weights"] == "uint8"
    model = onnx.load(str(ensure_built(m, m.base)))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    products = [n for n in model.graph.node if n.op_type in INTEGER_PRODUCTS]
    assert len(products) >= 30
    rng = np.random.default_rng(7)
    for node in products[:5]:
        w, z = INTEGER_PRODUCTS[node.op_type]
        b, b_zp = init[node.input[w]], init[node.input[z]]
        assert b.dtype == np.uint8 and b_zp.dtype == np.uint8, node.name
        a = rng.integers(0, 256, size=(48, b.shape[0])).astype(np.uint8)
        a[:8] = 255  # the largest activations, where a 16-bit pair sum would overflow
        exact = (a.astype(np.int64) - 3) @ (b.astype(np.int64) - b_zp.astype(np.int64))
        got = _integer_product(a, b, 3, b_zp)
        assert np.array_equal(got, exact), (node.name, int(np.abs(got - exact).max()))
