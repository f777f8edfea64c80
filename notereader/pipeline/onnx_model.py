"""Pinned ONNX variants of the sentence model, built locally, run without padding.

Why: the float64 PyTorch encoder is ~90% of a note's analysis time. The same
weights exported to ONNX and run by onnxruntime in float32 are about 4x
faster; dynamically quantised to int8 they are faster again but the vectors
move (cosine ~0.96 to float64), so each variant is a *different pinned
model* with its own manifest under ``models/`` and its own quality figures
(``docs/evaluation.md``).

Nothing is downloaded. The ONNX file is built on this machine from the
pinned, hash-verified weights of the base model (``derived_from`` in the
manifest) with the pinned exporter and quantiser, written to
``$NOTEREADER_CACHE_DIR/models/<name>/model.onnx`` and then verified against
the SHA-256 the manifest pins, like every other model file. The export is
byte-reproducible for the pinned tool versions on any CPU (checked by
``tests/test_onnx_model.py``); if another tool version produces other bytes,
loading refuses to run rather than silently changing results.

Three precisions: ``fp32``; ``int8`` (dynamic: weights int8, each run's
activations quantised with a scale computed from that run); ``int8-static``
(the default since engine 1.5.0: activation scales fixed at build time from
pinned activation ranges, measured once on pinned calibration sentences,
``quantize_static_calibrated``).

Byte-reproducible builds: the export and the quantisers only copy and round
weights, which every CPU does alike. Measuring activation ranges runs the
float32 model, whose kernels differ in their last bits between CPUs (an
AVX-512 machine built another static int8 file than the AVX2 machine its
first hash was pinned on), so the ranges are measured once
(``compute_calibration_ranges``), committed and pinned, and a build only reads
them. Processes that start together wait for one build (a file lock).

Determinism: float32 and (especially) dynamic int8 results depend on the
shape of the batch a sentence is computed in: dynamic int8 activations are
quantised with one scale per tensor per run, so a sentence's vector would depend on
its batch-mates. This encoder therefore never pads and runs on one
onnxruntime thread per run: a dynamic int8 model computes every distinct sentence on
its own; float32 and static int8 models compute sentences of the same token length together
(up to LENGTH_BATCH per run, ~1.3x the rate of one each), which leaves each
sentence's bytes unchanged because, without padding, every product and
normalisation is computed row by row in the same order whatever the other
rows. Either way a sentence's vector depends only on the sentence, not on the
batch, the order of notes or the number of threads (tested byte for byte). Parallelism comes from running several
sentences at once, one per thread (onnxruntime releases the GIL), which on 2
cores is ~20% faster than splitting each sentence's run across 2 threads.
Vectors are mean-pooled and L2-normalised in float64. Because a vector
depends only on its sentence, the most recently seen sentences' vectors are
kept (``CACHE_SENTENCES``): boilerplate repeated across notes is embedded once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from notereader.errors import ModelIntegrityError
from notereader.pipeline.embedder import ModelManifest, sha256_file, _offline

ONNX_FILE = "model.onnx"
CACHE_SENTENCES = 20_000  # ~60 MB of float64 vectors
LENGTH_BATCH = 32  # float32 models: sentences of one token length computed in one run (~1.3x the rate of one each)
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_cache_dir(name: str) -> Path:
    from notereader.pipeline.compiled import cache_dir

    return cache_dir() / "models" / name


def build_onnx(manifest: ModelManifest, base: ModelManifest, out: Path) -> None:
    """Export the base model's transformer to ONNX (and quantise it if asked) at ``out``."""
    build = manifest.build or {}
    precision = build.get("precision", "fp32")
    opset = int(build.get("opset", 17))
    root = base.verify()
    _offline()
    import torch
    from transformers import AutoModel, AutoTokenizer

    # a local directory whose files were just verified by hash; local_files_only: never the Hub
    tok = AutoTokenizer.from_pretrained(str(root), local_files_only=True)  # nosec B615 # verified local files
    model = AutoModel.from_pretrained(str(root), local_files_only=True).eval()  # nosec B615 # verified local files

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = tok(["A short example sentence."], return_tensors="pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        axes = {name: {0: "batch", 1: "tokens"} for name in (*ONNX_INPUTS, "last_hidden_state")}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(LastHidden(model), tuple(example[k] for k in ONNX_INPUTS), str(fp32),
                              input_names=list(ONNX_INPUTS), output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=opset, dynamo=False)
        final = fp32
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            final = Path(tmp) / "int8.onnx"
            signed = Path(tmp) / "int8-signed.onnx"
            # per_channel: one scale per output column of each weight matrix instead of one per matrix; on the dev
            # corpus's sentences the cosine to the float32 vectors goes from 0.961 to 0.991 (mean) at the same speed
            with _quiet_quantiser():
                quantize_dynamic(str(fp32), str(signed), weight_type=QuantType.QInt8,
                                 per_channel=bool(build.get("per_channel", False)))
            _store_weights(build, signed, final)
        elif precision == "int8-static":
            final = Path(tmp) / "int8-static.onnx"
            quantize_static_calibrated(manifest, fp32, final, int(model.config.intermediate_size))
        elif precision != "fp32":
            raise ModelIntegrityError(f"Model '{manifest.name}': unknown precision {precision!r} in {manifest.manifest_path}.",
                                      hint="Use 'fp32', 'int8' or 'int8-static'.")
        os.replace(final, out)


def _pinned_calibration_file(manifest: ModelManifest, key: str, what: str) -> Path:
    """A file named in ``build.<key>`` of the manifest (``{file, sha256}``), verified by hash."""
    spec = (manifest.build or {}).get(key) or {}
    if not spec.get("file") or not spec.get("sha256"):
        raise ModelIntegrityError(f"Model '{manifest.name}': a static int8 build needs build.{key}.file and "
                                  f".sha256 in {manifest.manifest_path}.", hint="Restore the manifest from version control.")
    path = manifest.manifest_path.parent / spec["file"]
    if not path.is_file() or sha256_file(path) != spec["sha256"]:
        raise ModelIntegrityError(
            f"Model '{manifest.name}': {what} {path} is missing or its SHA-256 is not the pinned "
            f"{spec['sha256']}. Other activation ranges give other scales, so other vectors.",
            hint="Restore the file from version control; new calibration sentences or ranges are a new model "
                 "with its own name.")
    return path


def calibration_texts(manifest: ModelManifest) -> list[str]:
    """The pinned calibration sentences of a statically quantised model (one per line, hash-verified)."""
    path = _pinned_calibration_file(manifest, "calibration", "calibration file")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def calibration_ranges(manifest: ModelManifest) -> Path:
    """The pinned activation ranges of a statically quantised model (onnxruntime's calibration JSON, hash-verified)."""
    return _pinned_calibration_file(manifest, "calibration_ranges", "calibration ranges file")


def _static_quant_targets(fp32: Path, intermediate_size: int) -> list[str]:
    """The weight products to quantise: every MatMul with a constant weight but the feed-forward outputs."""
    import onnx

    graph = onnx.load(str(fp32)).graph
    weights = {init.name: tuple(init.dims) for init in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and any(x in weights for x in n.input)
            and not any(weights.get(x, (0,))[0] == intermediate_size for x in n.input)]


@contextlib.contextmanager
def _quiet_quantiser() -> Iterator[None]:
    """Hide the quantiser's advice (logged on the root logger) and numpy's overflow warnings, then restore both."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy overflow warnings inside the zero-point arithmetic
            yield
    finally:
        root.setLevel(level)


def compute_calibration_ranges(manifest: ModelManifest, fp32: Path, tokenizer: Any, intermediate_size: int,
                               out: Path, texts: list[str] | None = None) -> None:
    """Run the calibration sentences through the float32 model and write the activation ranges to ``out``.

    A maintainer's step, not part of a build: the ranges depend on the CPU's float32 kernels in their last
    bits (an AVX-512 machine and an AVX2 machine disagree), so they are computed once, committed under
    ``models/calibration/`` and pinned by hash; every build reads that file and does no inference.
    """
    from onnxruntime.quantization import CalibrationDataReader

    texts = calibration_texts(manifest) if texts is None else texts
    max_tokens = int((manifest.build or {}).get("max_tokens", 256))

    class Sentences(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = iter(texts)

        def get_next(self) -> dict[str, np.ndarray] | None:
            text = next(self._feeds, None)
            if text is None:
                return None
            ids = np.array([tokenizer(text, truncation=True, max_length=max_tokens)["input_ids"]], dtype=np.int64)
            return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "ranges.json"
        _quantize_static(fp32, Path(tmp) / "scratch.onnx", Sentences(), cache, intermediate_size)
        os.replace(cache, out)


def quantize_static_calibrated(manifest: ModelManifest, fp32: Path, out: Path, intermediate_size: int,
                               ranges: Path | None = None) -> None:
    """int8 weights (one scale per column) and int8 activations with scales fixed at build time.

    The activation scales come from pinned ranges (``calibration_ranges``: min/max of the pinned calibration
    sentences, averaged over the sentences one at a time), so at run time a sentence's quantisation does not
    depend on its batch-mates: same-length sentences can share a run, as in float32. The build runs no
    inference, so it gives the same bytes on every CPU. The feed-forward output projections stay float32:
    their input (the GELU output) has outliers ~25x its 99.99th percentile, and one int8 scale per tensor
    cannot hold both (quantising them too drops the mean cosine to float32 from 0.993 to 0.94 on the bench
    corpus's sentences).
    """
    ranges = calibration_ranges(manifest) if ranges is None else ranges
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "ranges.json"  # a copy: the quantiser must never write to the pinned file
        shutil.copyfile(ranges, cache)
        signed = Path(tmp) / "signed.onnx"
        _quantize_static(fp32, signed, None, cache, intermediate_size)
        _store_weights(manifest.build or {}, signed, out)


def _store_weights(build: dict[str, Any], signed: Path, out: Path) -> None:
    """Move the quantiser's file to ``out``, its int8 weights made unsigned if the manifest says ``"weights": "uint8"``."""
    if build.get("weights") == "uint8":
        unsigned_weights(signed, out)
    else:
        os.replace(signed, out)


# The integer products of a quantised model and the positions of their constant weights and weights' zero point.
INTEGER_PRODUCTS = {"QLinearMatMul": (3, 5), "MatMulInteger": (1, 3)}


def unsigned_weights(src: Path, out: Path) -> int:
    """Store each integer product's constant int8 weights as uint8 offset by 128 (zero point 128); returns how many.

    Why: the products are then exact on every x86 CPU. onnxruntime multiplies uint8 activations by int8
    weights with VPMADDUBSW on a CPU without VNNI (AVX2), which adds two products into a saturating 16-bit
    integer: 2 x 255 x 127 overflows, so an AVX2 machine computed other vectors than an AVX-512 VNNI one
    (dev risk F1 0.891 against 0.908, engine 1.7.0). uint8 x uint8 products are widened to 16 bits and added
    in 32, which cannot overflow, so every CPU computes the exact integer sums, as VNNI does. The weights'
    real values (scale x (q - zero point)) are unchanged, so the model is the same; only the arithmetic is
    exact everywhere (checked by ``tests/test_onnx_model.py``). Used by the static (QLinearMatMul) and the
    dynamic (MatMulInteger) int8 builds whose manifest says ``"weights": "uint8"``.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    init = {t.name: t for t in model.graph.initializer}
    done: set[str] = set()
    count = 0
    for node in model.graph.node:
        if node.op_type not in INTEGER_PRODUCTS:
            continue
        positions = INTEGER_PRODUCTS[node.op_type]
        if len(node.input) <= max(positions):
            raise ModelIntegrityError(f"{node.op_type} {node.name!r} has no zero point for its weights.",
                                      hint="The int8 builds always write one; check the quantiser's settings.")
        for name in (node.input[i] for i in positions):
            tensor = init.get(name)
            if tensor is None:
                raise ModelIntegrityError(f"{node.op_type} {node.name!r}: input {name!r} is not a constant.",
                                          hint="Only constant weights are quantised to int8; check the quantiser's settings.")
            if name in done:
                continue
            if tensor.data_type != onnx.TensorProto.INT8:
                raise ModelIntegrityError(f"{node.op_type} {node.name!r}: weights {name!r} are not int8.",
                                          hint="The int8 builds quantise weights as QInt8; check the quantiser's settings.")
            shifted = (numpy_helper.to_array(tensor).astype(np.int16) + 128).astype(np.uint8)
            tensor.CopyFrom(numpy_helper.from_array(shifted, name))
            done.add(name)
        count += 1
    onnx.save(model, str(out))
    return count


def _quantize_static(fp32: Path, out: Path, reader: Any, cache: Path, intermediate_size: int) -> None:
    """onnxruntime's quantize_static with the static model's settings, for measuring ranges and for building.

    With a ``reader`` (calibration sentences) the ranges are measured and written to ``cache``; with none,
    they are read from ``cache`` and nothing runs. One call for both, so ranges are always measured with
    the settings they are built with.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with _quiet_quantiser():
        quantize_static(str(fp32), str(out), reader, quant_format=QuantFormat.QOperator, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_quantize=_static_quant_targets(fp32, intermediate_size),
                        calibrate_method=CalibrationMethod.MinMax, calibration_cache_path=str(cache),
                        extra_options={"MatMulConstBOnly": True, "CalibMovingAverage": True})


@contextlib.contextmanager
def _build_lock(directory: Path) -> Iterator[None]:
    """One build per model directory at a time, across processes (an API, its workers and a test run starting
    together would otherwise all build the same model at once, each taking a core).

    Holding the lock, no build is running, so scratch directories left by a build that was killed are removed.
    """
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            for stale in directory.glob("tmp*"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_built(manifest: ModelManifest, base: ModelManifest, rebuild: bool = False) -> Path:
    """The verified ONNX file for ``manifest``: built once from the pinned base weights, then checked by hash."""
    expected = manifest.files.get(ONNX_FILE)
    if expected is None:
        raise ModelIntegrityError(f"Model manifest {manifest.manifest_path} pins no '{ONNX_FILE}'.",
                                  hint="Restore the manifest from version control.")
    path = model_cache_dir(manifest.name) / ONNX_FILE
    actual = None if rebuild or not path.is_file() else sha256_file(path)
    if actual != expected:
        with _build_lock(path.parent):
            # another process may have built it while this one waited for the lock
            actual = None if rebuild or not path.is_file() else sha256_file(path)
            if actual != expected:
                print(f"notereader: building model '{manifest.name}' from the pinned weights of '{base.name}' "
                      f"(once; about 10 s) into {path.parent}", file=sys.stderr)
                build_onnx(manifest, base, path)
                actual = sha256_file(path)
    if actual != expected:
        tools = ", ".join(f"{k} {v}" for k, v in sorted((manifest.build or {}).get("tools", {}).items()))
        raise ModelIntegrityError(
            f"Model '{manifest.name}': the ONNX file built at {path} has SHA-256 {actual}, but "
            f"{manifest.manifest_path} pins {expected}. Results would not match other installations, so notereader "
            "refuses to run.",
            hint=f"Install the pinned tool versions ({tools}) with pip install -e . and delete {path.parent}; "
            "if the model was changed on purpose, record the new hash as a new model with its own engine version.",
        )
    return path


def one_thread_options() -> Any:
    """onnxruntime session options for one thread per run, no spinning, warnings quiet: the encoders run
    several runs at once, one per thread (see the module docstring)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def pooled(hidden: np.ndarray) -> np.ndarray:
    """A sentence's vector: its tokens' last hidden states averaged in float64, then L2-normalised."""
    vec = hidden.astype(np.float64).mean(axis=0)
    norm = float(np.sqrt(vec @ vec))
    return vec / norm if norm > 0 else vec


class OnnxEmbedder:
    """Deterministic, normalised float64 sentence vectors from a pinned ONNX model, one sentence per run."""

    def __init__(self, manifest: ModelManifest, base: ModelManifest, num_threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        _offline()  # the tokenizer and any build read local files only; never the Hugging Face Hub
        self.manifest = manifest
        self.base = base
        path = self._model_file()
        root = base.verify()
        self.threads = max(1, int(num_threads or os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="encoder") if self.threads > 1 else None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(manifest.build.get("max_tokens", 256)) if manifest.build else 256)
        self._open(path)
        self.calls = 0

    def _model_file(self) -> Path:
        """The verified ONNX file this encoder runs."""
        return ensure_built(self.manifest, self.base)

    def _open(self, path: Path) -> None:
        """Load the model file into the runtime that computes it (here onnxruntime)."""
        import onnxruntime as ort

        options = one_thread_options()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)
        # float32: a sentence's vector is the same bytes alone or beside others of its token length (no padding;
        # every product is computed row by row in the same order), and so is static int8's, whose activation scales
        # were fixed at build time: tested in tests/test_onnx_model.py. Dynamic int8: activations share one
        # quantisation scale per run, so batch-mates would move a sentence's vector.
        self.same_length_batches = (self.manifest.build or {}).get("precision", "fp32") in ("fp32", "int8-static")

    def _vectors(self, ids: list[list[int]]) -> list[np.ndarray]:
        """Vectors of sentences whose token ids all have the same length: one run, no padding."""
        batch = np.array(ids, dtype=np.int64)
        feeds = {"input_ids": batch, "attention_mask": np.ones_like(batch), "token_type_ids": np.zeros_like(batch)}
        return [pooled(hidden) for hidden in self.session.run(None, feeds)[0]]

    def _runs(self, ids: list[list[int]]) -> list[list[int]]:
        """Which sentences (by index) are computed together: one sentence per run, or, where the model allows
        it (``same_length_batches``), up to LENGTH_BATCH sentences of the same token length per run."""
        if not self.same_length_batches:
            return [[i] for i in range(len(ids))]
        by_length: dict[int, list[int]] = {}
        for i, sentence in enumerate(ids):
            by_length.setdefault(len(sentence), []).append(i)
        return [group[k:k + LENGTH_BATCH] for _n, group in sorted(by_length.items())
                for k in range(0, len(group), LENGTH_BATCH)]

    def _ids(self, texts: list[str]) -> list[list[int]]:
        return [self.tokenizer.encode(t).ids for t in texts]

    def encode(self, texts: Iterable[str], batch_size: int = 32) -> dict[str, np.ndarray]:
        """Return {text: unit vector (float64)} for every distinct text. ``batch_size`` is accepted and unused."""
        unique = sorted(set(texts))
        out: dict[str, np.ndarray] = {}
        todo = []
        for text in unique:
            vec = self._cache.get(text)
            if vec is None:
                todo.append(text)
            else:
                self._cache.move_to_end(text)
                out[text] = vec
        if todo:
            self.calls += 1
            ids = self._ids(todo)
            runs = self._runs(ids)

            def run(members: list[int]) -> list[np.ndarray]:
                return self._vectors([ids[i] for i in members])

            results = self._pool.map(run, runs) if self._pool and len(runs) > 1 else map(run, runs)
            for members, vectors in zip(runs, results):
                for i, vec in zip(members, vectors):
                    vec.setflags(write=False)  # shared through the cache: nobody may change it
                    out[todo[i]] = vec
                    self._cache[todo[i]] = vec
            while len(self._cache) > CACHE_SENTENCES:
                self._cache.popitem(last=False)
        return {text: out[text] for text in unique}

    def clear_cache(self) -> None:
        """Forget every remembered sentence vector (tests use it to make the encoder run again)."""
        self._cache.clear()

    def info(self) -> dict[str, Any]:
        return {"name": self.manifest.name, "sha256": self.manifest.sha256}
