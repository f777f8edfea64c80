"""The exact int8 encoder: exact integer products, batch- and thread-invariant, and the same on other CPUs."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from notereader.errors import ModelIntegrityError
from notereader.pipeline.embedder import DEFAULT_MODEL, EXACT_FORMAT, ModelManifest, load_embedder
from notereader.pipeline.exact_int8 import EXACT_FLOAT32_SUM, ExactInt8Embedder, ExactInt8Network
from notereader.pipeline.onnx_model import ONNX_FILE, OnnxEmbedder, ensure_built

from tests.test_onnx_model import ROOT, STATIC
from tests.test_onnx_model import TEXTS as SENTENCES  # edge cases included: empty text, emoji, a tab

EXACT = "all-MiniLM-L6-v2-int8-exact"


@pytest.fixture(scope="module")
def network() -> ExactInt8Network:
    m = ModelManifest.read(STATIC, ROOT / "models")
    return ExactInt8Network(ensure_built(m, m.base))


def test_the_exact_model_computes_the_pinned_int8_file_and_is_a_model_of_its_own():
    assert DEFAULT_MODEL == EXACT
    exact, static = ModelManifest.read(EXACT, ROOT / "models"), ModelManifest.read(STATIC, ROOT / "models")
    assert exact.format == EXACT_FORMAT and exact.build["weights_from"] == STATIC
    assert exact.files[ONNX_FILE] == static.files[ONNX_FILE]
    # the same file computed another way gives other vectors, so provenance must tell the two apart
    assert exact.sha256 != static.sha256


def test_verifying_the_exact_model_verifies_the_file_it_computes_and_builds_nothing_else(tmp_path, monkeypatch):
    """The API's readiness check verifies the model: for the exact model that is the int8-static file."""
    from notereader.pipeline.onnx_model import model_cache_dir

    built = ensure_built(*(lambda m: (m, m.base))(ModelManifest.read(STATIC, ROOT / "models")))
    monkeypatch.setenv("NOTEREADER_CACHE_DIR", str(tmp_path))  # a cache of its own, holding the built file only
    (tmp_path / "models" / STATIC).mkdir(parents=True)
    shutil.copy(built, tmp_path / "models" / STATIC / ONNX_FILE)
    exact = ModelManifest.read(EXACT, ROOT / "models")
    assert exact.verify() == model_cache_dir(STATIC) == tmp_path / "models" / STATIC
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [STATIC]


def test_integer_products_are_exact_for_every_quantised_product(network):
    rng = np.random.default_rng(7)
    for layer in network.layers:
        for p in (layer.qkv, layer.attention_out, layer.intermediate):
            # extreme codes (0 and 255) as well as random ones
            codes = rng.integers(0, 256, size=(40, p.weights.shape[0])).astype(np.float64)
            codes[0], codes[1] = 0, 255
            centred = codes - p.in_zero
            exact = centred.astype(np.int64) @ p.weights.astype(np.int64)
            assert np.abs(exact).max() < EXACT_FLOAT32_SUM
            assert np.array_equal((centred.astype(np.float32) @ p.weights).astype(np.int64), exact)


def test_onnxruntimes_integer_kernel_gives_the_exact_products_and_the_same_hidden_states(network):
    """uint8 x uint8 MatMulInteger: exact on this CPU (its x86 uint8 x int8 kernels saturate), so the
    network uses it, and every hidden state is the same bytes as with numpy's float32 product."""
    assert network.integer_kernel == "onnxruntime MatMulInteger uint8"
    rng = np.random.default_rng(11)
    for layer in network.layers:
        for p in (layer.qkv, layer.attention_out, layer.intermediate):
            assert p.integer is not None
            codes = rng.integers(0, 256, size=(33, p.weights.shape[0])).astype(np.float64)
            codes[0], codes[1], codes[2, ::2] = 0, 255, 255
            exact = (codes - p.in_zero).astype(np.int64) @ p.weights.astype(np.int64)
            assert np.array_equal(p.integer(codes.astype(np.uint8)).astype(np.int64), exact)
    m = ModelManifest.read(STATIC, ROOT / "models")
    numpy_only = ExactInt8Network(ensure_built(m, m.base), integer_kernel=False)
    assert numpy_only.integer_kernel == "numpy float32" and numpy_only.layers[0].qkv.integer is None
    tok = OnnxEmbedder(m, m.base, num_threads=1).tokenizer
    for t in SENTENCES:
        ids = tok.encode(t).ids
        assert network.hidden(ids).tobytes() == numpy_only.hidden(ids).tobytes(), t


def test_an_integer_kernel_that_is_not_exact_is_not_used(monkeypatch, caplog):
    """If onnxruntime's kernel ever gave other integers on some CPU, numpy's product is kept, with a warning."""
    import ctypes

    import onnxruntime

    real_bind, real_run = onnxruntime.IOBinding.bind_output, onnxruntime.InferenceSession.run_with_iobinding

    def remember_output(self, name, device_type="cpu", device_id=0, element_type=None, shape=None, buffer_ptr=None):
        self.output_seen = (tuple(shape), buffer_ptr)
        return real_bind(self, name, device_type, device_id, element_type, shape, buffer_ptr)

    def off_by_one(self, binding, *args, **kwargs):  # a kernel that loses a unit somewhere
        real_run(self, binding, *args, **kwargs)
        shape, address = binding.output_seen
        out = np.ctypeslib.as_array((ctypes.c_int32 * int(np.prod(shape))).from_address(address)).reshape(shape)
        out[-1, -1] += 1

    monkeypatch.setattr(onnxruntime.IOBinding, "bind_output", remember_output)
    monkeypatch.setattr(onnxruntime.InferenceSession, "run_with_iobinding", off_by_one)
    m = ModelManifest.read(STATIC, ROOT / "models")
    with caplog.at_level("WARNING"):
        net = ExactInt8Network(ensure_built(m, m.base))
    assert net.integer_kernel == "numpy float32"
    assert all(p.integer is None for layer in net.layers for p in (layer.qkv, layer.attention_out, layer.intermediate))
    assert "does not give the exact products" in caplog.text


def test_the_network_computes_what_onnxruntime_computes_up_to_rounding(network):
    """Same weights and scales: the vectors agree closely; only re-quantisation boundaries differ."""
    m = ModelManifest.read(STATIC, ROOT / "models")
    ort = OnnxEmbedder(m, m.base, num_threads=1)
    texts = [t for t in SENTENCES if t]
    theirs = ort.encode(texts)
    tok = ort.tokenizer
    for t in texts:
        vec = network.hidden(tok.encode(t).ids).mean(axis=0)
        vec /= np.linalg.norm(vec)
        assert float(vec @ theirs[t]) > 0.99, t


def test_a_refused_weights_file_names_both_manifests(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    path = models / f"{EXACT}.json"
    data = json.loads(path.read_text())
    data["files"][ONNX_FILE] = "0" * 64
    path.write_text(json.dumps(data))
    with pytest.raises(ModelIntegrityError) as err:
        load_embedder(EXACT, models)
    assert EXACT in str(err.value) and STATIC in str(err.value)


def test_a_sentence_vector_is_the_same_bytes_alone_batched_or_threaded():
    m = ModelManifest.read(EXACT, ROOT / "models")
    one = ExactInt8Embedder(m, m.base, num_threads=1)
    words = ["rent", "court", "insulin", "school", "probation", "the food bank"]
    made = [f"Client called about {a} and {b} on {day}." for a in words for b in words
            for day in ("Monday", "Friday morning")] + SENTENCES
    alone = {t: one._vectors([one.tokenizer.encode(t).ids])[0] for t in made}
    runs = one._runs([one.tokenizer.encode(t).ids for t in made])
    assert max(map(len, runs)) > 1  # sentences of one length do share runs
    for threads in (1, 2, 4):
        together = ExactInt8Embedder(m, m.base, num_threads=threads).encode(list(reversed(made)) * 2)
        for t in made:
            assert together[t].tobytes() == alone[t].tobytes(), (threads, t)
    assert all(abs(float(v @ v) - 1.0) < 1e-12 for v in alone.values())


CODES_SCRIPT = r"""
import sys, numpy as np
from pathlib import Path
from notereader.pipeline.embedder import ModelManifest
from notereader.pipeline.exact_int8 import ExactInt8Network
from notereader.pipeline.onnx_model import OnnxEmbedder, ensure_built
from numpy._core._multiarray_umath import __cpu_features__ as cpu
from threadpoolctl import threadpool_info
root, out = Path(sys.argv[1]), sys.argv[2]
texts = sys.argv[3:]
static = ModelManifest.read("all-MiniLM-L6-v2-onnx-int8-static", root / "models")
ort = OnnxEmbedder(static, static.base, num_threads=1)
net = ExactInt8Network(ensure_built(static, static.base))
result = {"cpu": np.array(" ".join(k for k in ("SSE42", "AVX", "FMA3", "AVX2", "AVX512F") if cpu.get(k))),
          "kernel": np.array(net.integer_kernel),
          "blas": np.array(" ".join(sorted({str(i.get("architecture")) for i in threadpool_info() if i["user_api"] == "blas"})))}
for i, t in enumerate(texts):
    ids = ort.tokenizer.encode(t).ids
    trace = []
    result[f"hidden{i}"] = net.hidden(ids, trace)
    result[f"codes{i}"] = np.concatenate([c.ravel() for c in trace])
    result[f"ort{i}"] = ort._vectors([ids])[0]
np.savez(out, **result)
"""


def _codes(tmp_path: Path, prefix: list[str], name: str, **extra_env: str) -> dict[str, np.ndarray]:
    out = tmp_path / f"{name}.npz"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(ROOT), **extra_env)
    subprocess.run([*prefix, sys.executable, "-c", CODES_SCRIPT, str(ROOT), str(out), *SENTENCES[:3]],
                   check=True, env=env, cwd=ROOT, timeout=1200, capture_output=True)
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


# OpenBLAS's kernels for each emulated CPU. Under qemu-user OpenBLAS's own detection cannot be trusted to see
# the emulated CPU: on one AMD EPYC host it chose its Haswell kernels for both (OPENBLAS_VERBOSE=2 printed
# "Core: Haswell") and died on an AVX instruction under Nehalem. So the emulated run names them.
OPENBLAS_CORE = {"Nehalem": "Nehalem", "SandyBridge": "Sandybridge"}


@pytest.mark.slow
@pytest.mark.skipif(platform.machine() != "x86_64", reason="the emulated CPUs are x86-64 ones")
@pytest.mark.parametrize("cpu", ["Nehalem", "SandyBridge"])
def test_every_code_is_the_same_on_a_cpu_with_other_simd_kernels(tmp_path, cpu):
    """Under qemu with an SSE4.2-only (Nehalem) or AVX-without-FMA (SandyBridge) CPU, numpy, OpenBLAS and
    onnxruntime pick other kernels than on this machine. onnxruntime's int8 vectors move (the failure this
    encoder exists to avoid: the check can see a CPU difference); the exact network's uint8 codes are all the
    same and its hidden states agree to float64's last bits. onnxruntime's uint8 integer kernel for that CPU
    passes the network's exactness check there too, so it is what computed the integer products."""
    qemu = shutil.which("qemu-x86_64")
    assert qemu, "qemu-user is missing: .ci/run installs it (apt-get install qemu-user)"
    native = _codes(tmp_path, [], "native")
    other = _codes(tmp_path, [qemu, "-cpu", cpu], cpu, OPENBLAS_CORETYPE=OPENBLAS_CORE[cpu])
    assert str(other["cpu"]) != str(native["cpu"]) and "FMA3" not in str(other["cpu"])
    assert str(other["blas"]).lower() == OPENBLAS_CORE[cpu].lower() != str(native["blas"]).lower()
    assert str(other["kernel"]) == str(native["kernel"]) == "onnxruntime MatMulInteger uint8"
    assert any(not np.array_equal(native[f"ort{i}"], other[f"ort{i}"]) for i in range(3)), \
        "onnxruntime gave the same bytes on both CPUs: the emulated CPU did not change its kernels"
    for i in range(3):
        assert np.array_equal(native[f"codes{i}"], other[f"codes{i}"]), (cpu, SENTENCES[i])
        assert np.abs(native[f"hidden{i}"] - other[f"hidden{i}"]).max() < 1e-12
