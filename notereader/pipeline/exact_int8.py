"""The pinned static int8 sentence model, computed so that no CPU can change its result.

Why: onnxruntime chooses its float kernels by CPU. A softmax summed 8 lanes at
a time (AVX2) and 16 at a time (AVX-512) differ in the last bit, and so do
its GELU and exponential kernels. In a float model that is noise far below
the 4 decimals a score is rounded to. But the static int8 model re-quantises
its activations to uint8 eighteen times per sentence, and a last-bit
difference that lands on a rounding boundary moves a whole quantisation step
(~0.02 to 0.16), which the later layers carry to the sentence vector. That
is what the reference notes showed: the same model file, notes and rubrics
gave scores up to 0.0006 apart, in 29 of 62 notes, on AVX2 and on AVX-512
machines (``docs/evaluation.md``, "Eighth session").

How: the same pinned ONNX file (``all-MiniLM-L6-v2-onnx-int8-static``, built
and verified by hash as before) supplies every weight, scale and zero point;
this module computes the network in numpy, in a way whose every rounding is
the same on every CPU:

- **integer products exactly.** An activation code minus its zero point is an
  integer in [-255, 255], a weight minus its zero point one in [-128, 128];
  a 384-term dot product of such integers is below 2**24 in magnitude, and
  float32 sums of integers that stay below 2**24 are exact in any order. So
  every BLAS kernel, with or without FMA, whatever its blocking, gives the
  same integers (``_check_exact`` refuses a model for which this would not
  hold). They are computed by onnxruntime's uint8 integer kernel
  (``IntegerProduct``), faster than numpy's float32 product (``notereader
  bench``'s encoder profile times both), which gives the same integers:
  checked at load on this CPU, or numpy's product is kept;
- **everything with real values in float64**: the requantisation, attention
  and its softmax, the layer norms and the feed-forward output projection
  (whose weights stay float). Kernels differ there in the last of 53 bits,
  ~1e-16 relative; such a difference changes a uint8 code only when it lands
  within ~1e-16 of a rounding boundary, odds of about 1e-14 per code, and
  `tests/test_exact_int8.py` checks under other CPUs (qemu) that every code
  of its sentences is the same;
- **GELU as a table**: its input is a dequantised code plus a column's bias,
  so each column has only 256 possible inputs; the table is computed once,
  at load, with scipy's erf (portable C, no SIMD dispatch).

Sentences of one token length share a run, but every real-valued product is
one BLAS call per sentence (a kernel may round a row differently beside other
rows), so a sentence's bytes are those computed alone. About 2.4x the time of
onnxruntime's int8 kernels (``docs/performance.md``); most of it is the
float64 feed-forward output product.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from notereader.errors import ModelIntegrityError
from notereader.pipeline.onnx_model import OnnxEmbedder, ensure_built, one_thread_options, pooled

LEVELS = 256  # uint8 codes
EXACT_FLOAT32_SUM = 2 ** 24  # integers below this are exact in float32, whatever the order of addition
logger = logging.getLogger(__name__)
INTEGER_STAGE = "integer products (quantise, exact integer product, requantise)"  # a stage of hidden_batch's profile
PROJECTIONS = ("attention/self/query", "attention/self/key", "attention/self/value",
               "attention/output/dense", "intermediate/dense")


@dataclass(frozen=True)
class QuantizedProjection:
    """One QLinearMatMul: uint8 activations times uint8 weights, requantised to uint8 codes."""

    in_scale: float
    in_zero: float
    weights: np.ndarray      # float32, weight codes minus their zero points: small integers, exact
    multiplier: np.ndarray   # float64 per output column: in_scale * weight_scale / out_scale
    out_scale: float
    out_zero: float
    integer: IntegerProduct | None = None  # onnxruntime's integer kernel, where it gives the exact products

    def codes(self, x: np.ndarray) -> np.ndarray:
        """uint8 output codes (as float64) of the real-valued input rows ``x``."""
        q = np.divide(x, self.in_scale)
        np.rint(q, out=q)
        q += self.in_zero
        np.clip(q, 0, LEVELS - 1, out=q)
        products = self.products(q)
        products *= self.multiplier
        np.rint(products, out=products)
        products += self.out_zero
        return np.clip(products, 0, LEVELS - 1, out=products)

    def products(self, codes: np.ndarray) -> np.ndarray:
        """The exact integers sum((code - in_zero) * weight), as float64, of uint8 input codes held as floats."""
        if self.integer is not None:
            return self.integer(codes.astype(np.uint8)).astype(np.float64)
        return ((codes - self.in_zero).astype(np.float32) @ self.weights).astype(np.float64)  # exact integers


class IntegerProduct:
    """sum((a - a_zero) * (w - w_zero)) of uint8 codes as exact int32, by onnxruntime's MatMulInteger.

    uint8 times uint8 on purpose: onnxruntime's x86 kernels for uint8 times *int8* use an instruction
    (VPMADDUBSW) that saturates its 16-bit pair sums, so they are not exact (onnxruntime's quantisation
    guide warns of it, and it is seen on this project's machines). uint8 times uint8 widens to 16 bits
    first and adds in 32 bits, where these products (below 2**24) cannot overflow. Integers are exact
    whatever the order of addition, so every CPU's kernel gives the same numbers as numpy's float32
    product; ``ExactInt8Network`` still compares the two at load, on extreme and random codes, and keeps
    numpy's product if they ever differ.
    """

    WEIGHT_ZERO = 128  # weights minus their zero point lie in [-128, 127]; held as uint8 around 128

    def __init__(self, centred_weights: np.ndarray, in_zero: float) -> None:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        shifted = centred_weights.astype(np.int64) + self.WEIGHT_ZERO
        if shifted.min() < 0 or shifted.max() >= LEVELS or not float(in_zero).is_integer():
            raise ValueError("a weight or the activations' zero point does not fit in uint8")
        k, n = centred_weights.shape
        self.columns = n
        graph = helper.make_graph(
            [helper.make_node("MatMulInteger", ["codes", "weights", "in_zero", "weight_zero"], ["products"])],
            "integer_product",
            [helper.make_tensor_value_info("codes", TensorProto.UINT8, ["rows", k])],
            [helper.make_tensor_value_info("products", TensorProto.INT32, ["rows", n])],
            [numpy_helper.from_array(shifted.astype(np.uint8), "weights"),
             numpy_helper.from_array(np.array(int(in_zero), dtype=np.uint8), "in_zero"),
             numpy_helper.from_array(np.array(self.WEIGHT_ZERO, dtype=np.uint8), "weight_zero")])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
        onnx.checker.check_model(model)
        options = one_thread_options()
        # No memory arena: eighteen sessions would each keep one as large as their largest run's buffers.
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        # numpy owns both buffers (bound, not copied): onnxruntime's own output allocations, of a new size for
        # every run, would otherwise fragment the C heap and hold on to hundreds of MB
        codes = np.ascontiguousarray(codes)
        out = np.empty((codes.shape[0], self.columns), dtype=np.int32)
        binding = self.session.io_binding()
        binding.bind_cpu_input("codes", codes)
        binding.bind_output("products", "cpu", 0, np.int32, out.shape, out.ctypes.data)
        self.session.run_with_iobinding(binding)
        return out


@dataclass(frozen=True)
class Layer:
    qkv: QuantizedProjection  # query, key and value side by side: they quantise the same input alike
    attention_out: QuantizedProjection
    intermediate: QuantizedProjection
    biases: dict[str, np.ndarray]  # "qkv" (the three side by side) and the other products' own
    score_scale: float
    attention_norm: tuple[np.ndarray, np.ndarray]
    output_norm: tuple[np.ndarray, np.ndarray]
    gelu_table: np.ndarray      # GELU(dequantised code + bias), flattened (column, code)
    gelu_offsets: np.ndarray    # column x LEVELS
    output_weights: np.ndarray  # float64 (intermediate, hidden)


class ExactInt8Network:
    """The BERT encoder of a QOperator static int8 ONNX export (torch.onnx names), computed exactly in numpy."""

    def __init__(self, path: Path, heads: int = 12, epsilon: float = 1e-12, integer_kernel: bool = True) -> None:
        """``integer_kernel``: compute the integer products with onnxruntime's integer kernel where it
        matches numpy's float32 product exactly (checked here); False always uses numpy's. Either gives
        the same numbers: only the speed differs."""
        import onnx
        from onnx import numpy_helper
        from scipy.special import erf

        model = onnx.load(str(path))
        values: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        for node in model.graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
                values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        nodes = {node.name: node for node in model.graph.node}
        self.heads = heads
        self.epsilon = epsilon

        def value(name: str) -> np.ndarray:
            if name not in values:
                raise ModelIntegrityError(f"{path}: the int8 model has no weight or constant named {name!r}.",
                                          hint="The exact encoder reads the pinned int8-static ONNX export; "
                                          "rebuild it with the pinned tools.")
            return values[name]

        def node(name: str) -> Any:
            if name not in nodes:
                raise ModelIntegrityError(f"{path}: the int8 model has no node named {name!r}.",
                                          hint="The exact encoder reads the pinned int8-static ONNX export "
                                          "(torch.onnx names, QOperator format); rebuild it with the pinned tools.")
            return nodes[name]

        def f64(name: str) -> np.ndarray:
            return np.asarray(value(name), dtype=np.float64)

        def projection(name: str) -> QuantizedProjection:
            n = node(name)
            if n.op_type != "QLinearMatMul":
                raise ModelIntegrityError(f"{path}: node {name!r} is {n.op_type}, not QLinearMatMul.",
                                          hint="Rebuild the int8-static model with the pinned tools.")
            a_scale, a_zero, w, w_scale, w_zero, y_scale, y_zero = (value(x) for x in n.input[1:])
            centred = w.astype(np.float64) - np.asarray(w_zero, dtype=np.float64)
            _check_exact(name, centred, float(a_zero), path)
            return QuantizedProjection(
                in_scale=float(a_scale), in_zero=float(a_zero), weights=centred.astype(np.float32),
                multiplier=float(a_scale) * np.asarray(w_scale, dtype=np.float64) / float(y_scale),
                out_scale=float(y_scale), out_zero=float(y_zero))

        self.word = value("inner.embeddings.word_embeddings.weight")
        self.position = f64("inner.embeddings.position_embeddings.weight")
        self.token_type = f64("inner.embeddings.token_type_embeddings.weight")[0]
        self.embedding_norm = (f64("inner.embeddings.LayerNorm.weight"), f64("inner.embeddings.LayerNorm.bias"))
        self.layers: list[Layer] = []
        i = 0
        while f"/inner/encoder/layer.{i}/attention/self/query/MatMul_quant" in nodes:
            prefix, weights = f"/inner/encoder/layer.{i}/", f"inner.encoder.layer.{i}."
            proj = {k: projection(f"{prefix}{k}/MatMul_quant") for k in PROJECTIONS}
            biases = {k: f64(weights + k.replace("/", ".") + ".bias") for k in (*PROJECTIONS, "output/dense")}
            biases["qkv"] = np.concatenate([biases[k] for k in PROJECTIONS[:3]])
            inter = proj["intermediate/dense"]
            levels = (np.arange(LEVELS, dtype=np.float64) - inter.out_zero) * inter.out_scale
            pre = levels[None, :] + biases["intermediate/dense"][:, None]
            gelu = pre * 0.5 * (1.0 + erf(pre / np.sqrt(2.0)))
            self.layers.append(Layer(
                qkv=_side_by_side(path, [proj[k] for k in PROJECTIONS[:3]]),
                attention_out=proj["attention/output/dense"], intermediate=inter, biases=biases,
                score_scale=float(value(node(prefix + "attention/self/Mul").input[1]))
                * float(value(node(prefix + "attention/self/Mul_1").input[1])),
                attention_norm=(f64(weights + "attention.output.LayerNorm.weight"),
                                f64(weights + "attention.output.LayerNorm.bias")),
                output_norm=(f64(weights + "output.LayerNorm.weight"), f64(weights + "output.LayerNorm.bias")),
                gelu_table=gelu.ravel(), gelu_offsets=np.arange(pre.shape[0]) * LEVELS,
                output_weights=f64(node(prefix + "output/dense/MatMul").input[1])))
            i += 1
        if not self.layers:
            raise ModelIntegrityError(f"{path}: no quantised encoder layers found.",
                                      hint="The exact encoder reads the pinned int8-static ONNX export; rebuild it.")
        self.dim = int(self.position.shape[1])
        self.max_tokens = int(self.position.shape[0])
        self.integer_kernel = "numpy float32"
        if integer_kernel:
            self._use_integer_kernel(path)

    def _use_integer_kernel(self, path: Path) -> None:
        """Switch every quantised product to onnxruntime's integer kernel if, on this CPU, it gives
        exactly numpy's products on probe codes: all 0, all 255, alternating, the zero point, random."""
        rng = np.random.default_rng(0)
        layers = []
        for layer in self.layers:
            swapped = {}
            for name in ("qkv", "attention_out", "intermediate"):
                p: QuantizedProjection = getattr(layer, name)
                try:
                    kernel = IntegerProduct(p.weights, p.in_zero)
                except ValueError as err:
                    logger.warning("%s: %s, so onnxruntime's uint8 integer kernel cannot compute its products; "
                                   "numpy's float32 product is used (same results, slower).", path, err)
                    return
                k = p.weights.shape[0]
                probe = rng.integers(0, LEVELS, size=(64, k)).astype(np.float64)
                probe[0], probe[1], probe[2] = 0, LEVELS - 1, p.in_zero
                probe[3, ::2], probe[3, 1::2] = 0, LEVELS - 1
                probe[4, ::2], probe[4, 1::2] = LEVELS - 1, 0
                if not np.array_equal(kernel(probe.astype(np.uint8)).astype(np.float64), p.products(probe)):
                    logger.warning("%s: onnxruntime's integer kernel does not give the exact products on this CPU; "
                                   "numpy's float32 product is used (same results, slower).", path)
                    return
                swapped[name] = replace(p, integer=kernel)
            layers.append(replace(layer, **swapped))
        self.layers = layers
        self.integer_kernel = "onnxruntime MatMulInteger uint8"

    def _norm(self, x: np.ndarray, gamma_beta: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        return centred / np.sqrt(variance + self.epsilon) * gamma_beta[0] + gamma_beta[1]

    def hidden(self, ids: list[int], trace: list[np.ndarray] | None = None) -> np.ndarray:
        """Last hidden state (tokens x dim, float64) of one sentence's token ids."""
        return self.hidden_batch([ids], trace)[0]

    def hidden_batch(self, batch: list[list[int]], trace: list[np.ndarray] | None = None,
                     stages: dict[str, float] | None = None) -> np.ndarray:
        """Last hidden states (sentences x tokens x dim, float64) of sentences with the same number of tokens.

        Each sentence's result is the same bytes as computed alone: the integer products are exact, and
        every real-valued product and reduction is computed per sentence (numpy runs one BLAS call per
        sentence of a stack). ``trace``, if given, receives every uint8 code array computed (for tests);
        ``stages``, if given, accumulates seconds per stage (``notereader bench``'s encoder profile).
        """
        ids = np.asarray(batch, dtype=np.intp)
        if ids.ndim != 2 or not 0 < ids.shape[1] <= self.max_tokens:
            raise ValueError(f"expected sentences of one length, 1 to {self.max_tokens} tokens each; got shape {ids.shape}")
        count, tokens = ids.shape
        heads, size = self.heads, self.dim // self.heads
        h = self._norm(self.word[ids].astype(np.float64) + self.position[:tokens] + self.token_type,
                       self.embedding_norm)

        def stage(name: str) -> Any:
            return _Stage(stages, name) if stages is not None else contextlib.nullcontext()

        def codes(p: QuantizedProjection, x: np.ndarray) -> np.ndarray:
            with stage(INTEGER_STAGE):
                out = p.codes(x.reshape(count * tokens, -1)).reshape(count, tokens, -1)
            if trace is not None:
                trace.append(out.astype(np.uint8))
            return out

        def split(x: np.ndarray) -> np.ndarray:  # (sentences, heads, tokens, size)
            return x.reshape(count, tokens, heads, size).transpose(0, 2, 1, 3)

        for layer in self.layers:
            b, p = layer.biases, layer.qkv
            qkv = (codes(p, h) - p.out_zero) * p.out_scale + b["qkv"]  # one product for all three
            q, k, v = (qkv[..., i * self.dim:(i + 1) * self.dim] for i in range(3))
            with stage("attention (float64)"):
                scores = (split(q) @ split(k).transpose(0, 1, 3, 2)) * layer.score_scale
                weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
                weights /= weights.sum(axis=-1, keepdims=True)
                context = (weights @ split(v)).transpose(0, 2, 1, 3).reshape(count, tokens, self.dim)
            p = layer.attention_out
            projected = codes(p, context)
            with stage("layer norms and GELU table (float64)"):
                h1 = self._norm((projected - p.out_zero) * p.out_scale + b["attention/output/dense"] + h,
                                layer.attention_norm)
            inter = codes(layer.intermediate, h1)
            with stage("layer norms and GELU table (float64)"):
                activated = layer.gelu_table[inter.astype(np.intp) + layer.gelu_offsets]
            with stage("feed-forward output product (float64)"):
                out = activated @ layer.output_weights
            with stage("layer norms and GELU table (float64)"):
                h = self._norm(out + b["output/dense"] + h1, layer.output_norm)
        return h


class _Stage:
    """Adds the seconds spent inside a ``with`` block to ``stages[name]``."""

    def __init__(self, stages: dict[str, float], name: str) -> None:
        self.stages, self.name = stages, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.stages[self.name] = self.stages.get(self.name, 0.0) + time.perf_counter() - self.started


def _side_by_side(path: Path, projections: list[QuantizedProjection]) -> QuantizedProjection:
    """One projection computing several that read the same input codes; each keeps its own output scale.

    Output scales and zero points become per-column arrays; the codes are the same numbers each would give.
    """
    first = projections[0]
    if any((p.in_scale, p.in_zero) != (first.in_scale, first.in_zero) for p in projections):
        raise ModelIntegrityError(f"{path}: the query, key and value products quantise their input differently.",
                                  hint="Rebuild the int8-static model with the pinned tools.")
    width = [p.weights.shape[1] for p in projections]
    return QuantizedProjection(
        in_scale=first.in_scale, in_zero=first.in_zero,
        weights=np.concatenate([p.weights for p in projections], axis=1),
        multiplier=np.concatenate([p.multiplier for p in projections]),
        out_scale=np.repeat([p.out_scale for p in projections], width),  # type: ignore[arg-type]
        out_zero=np.repeat([p.out_zero for p in projections], width))  # type: ignore[arg-type]


def _check_exact(name: str, centred_weights: np.ndarray, in_zero: float, path: Path) -> None:
    """Refuse a projection whose integer products could exceed float32's exact range in some order."""
    largest_activation = max(in_zero, LEVELS - 1 - in_zero)
    bound = float(np.abs(centred_weights).sum(axis=0).max()) * largest_activation
    if not np.array_equal(centred_weights, np.rint(centred_weights)) or bound >= EXACT_FLOAT32_SUM:
        raise ModelIntegrityError(
            f"{path}: {name}'s integer products could reach {bound:,.0f}, beyond the {EXACT_FLOAT32_SUM:,} "
            "below which float32 sums are exact in any order, so results could differ between CPUs.",
            hint="Use a model whose quantised products have at most about 500 terms, or compute them in float64.")


class ExactInt8Embedder(OnnxEmbedder):
    """Sentence vectors of the pinned int8-static model computed by ``ExactInt8Network``.

    The manifest (``format: int8-exact``) names the ONNX model whose file supplies the weights
    (``build.weights_from``) and pins that file's SHA-256 too, so a rebuilt file that differed is refused.
    Tokenising, the sentence cache and running sentences on several threads are the ONNX encoder's.
    """

    def _model_file(self) -> Path:
        return ensure_built(self.manifest.weights_manifest(), self.base)

    def _open(self, path: Path) -> None:
        self.network = ExactInt8Network(path)
        self.dim = self.network.dim
        self.same_length_batches = True  # each sentence's bytes are those computed alone (hidden_batch)

    def _vectors(self, ids: list[list[int]]) -> list[np.ndarray]:
        """Vectors of sentences with the same number of tokens, each the same bytes as computed alone."""
        return [pooled(hidden) for hidden in self.network.hidden_batch(ids)]
