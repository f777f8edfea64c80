"""Does this machine's CPU change results? Compare it with the same machine with AVX-512 hidden.

The reference test (``tests/test_reference.py``) compares against results
recorded on some machine; when it fails, this tells whether the CPU is the
cause. ``valgrind --tool=none`` runs a program on a CPU that has AVX2 and FMA
but no AVX-512 (onnxruntime, numpy and OpenBLAS then pick their AVX2
kernels; the ``cpu`` line printed shows what numpy saw), so one AVX-512
machine can run both sides:

    python -m tests.cross_cpu record /tmp/xcpu                        # natively
    valgrind --tool=none python -m tests.cross_cpu replay /tmp/xcpu   # AVX-512 hidden, ~15 min

``record`` analyses the reference notes (``tests/reference.py``) natively and
keeps every sentence vector it computed, the results, and the raw encoder
outputs of SAMPLE sentences (each alone, then batched by token length as the
reader runs them). ``replay`` computes those encoder outputs again, then
analyses the notes with the recorded vectors (the encoder under emulation
would take hours for every sentence), so everything else (spaCy, the context
stage, the classifier fits, numpy) runs on the other CPU. It prints what
differs and exits 1 if anything does.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

SAMPLE = 120  # encoder sentences compared directly (under valgrind ~3 s each)


def _cpu() -> str:
    from numpy._core._multiarray_umath import __cpu_features__ as features

    return " ".join(k for k in ("AVX2", "FMA3", "AVX512F", "AVX512_SKX", "AVX512VNNI") if features.get(k))


def _fresh_cache() -> None:
    """A cache dir of its own (so the replay fits its classifiers again), with the built models copied in."""
    from notereader.pipeline.compiled import cache_dir

    models = cache_dir() / "models"
    tmp = Path(tempfile.mkdtemp(prefix="notereader-xcpu-"))
    if models.is_dir():
        shutil.copytree(models, tmp / "models")
    os.environ["NOTEREADER_CACHE_DIR"] = str(tmp)


def _raw(embedder: Any, texts: list[str]) -> dict[str, str]:
    """SHA-256 of each sentence's raw encoder output, computed alone and in runs of the same token length."""
    import numpy as np

    ids = embedder._ids(texts)
    out = {}
    for members in [[i] for i in range(len(texts))] + embedder._runs(ids):
        batch = np.array([ids[i] for i in members], dtype=np.int64)
        feeds = {"input_ids": batch, "attention_mask": np.ones_like(batch), "token_type_ids": np.zeros_like(batch)}
        for i, hidden in zip(members, embedder.session.run(None, feeds)[0]):
            key = f"{texts[i]} [{'alone' if len(members) == 1 else 'batched'}]"
            out.setdefault(key, hashlib.sha256(np.ascontiguousarray(hidden).tobytes()).hexdigest())
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("record", "replay"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, directory = argv[0], Path(argv[1])
    _fresh_cache()
    from notereader.pipeline import onnx_model
    from tests.reference import reference_notes, results

    directory.mkdir(parents=True, exist_ok=True)
    vectors_file = directory / "vectors.pkl"
    store: dict[str, Any] = {} if mode == "record" else pickle.loads(vectors_file.read_bytes())
    real_encode = onnx_model.OnnxEmbedder.encode

    def encode(self: Any, texts: Any, batch_size: int = 32) -> dict[str, Any]:
        texts = sorted(set(texts))
        if mode == "record":
            found = real_encode(self, texts, batch_size)
            store.update(found)
            return found
        return {t: store[t] for t in texts}  # a sentence not recorded is a KeyError: the runs differ

    onnx_model.OnnxEmbedder.encode = encode  # type: ignore[method-assign]
    from notereader.reader import Reader

    reader = Reader()
    now = results(reader, reference_notes())
    print(f"cpu as numpy sees it: {_cpu()}")
    if mode == "record":
        sample = sorted(store)[:: max(1, len(store) // SAMPLE)][:SAMPLE]
        raw = _raw(reader.embedder, sample)
        vectors_file.write_bytes(pickle.dumps(store))
        (directory / "recorded.json").write_text(json.dumps({"cpu": _cpu(), "results": now, "raw": raw,
                                                             "sample": sample}, sort_keys=True))
        print(f"recorded {len(now)} notes, {len(store)} sentence vectors and {len(raw)} raw encoder outputs "
              f"into {directory}")
        return 0
    recorded = json.loads((directory / "recorded.json").read_text())
    raw = _raw(reader.embedder, recorded["sample"])
    moved_raw = sorted(k for k in recorded["raw"] if raw.get(k) != recorded["raw"][k])
    moved = sorted(n for n in recorded["results"] if recorded["results"][n] != now.get(n))
    print(f"recorded on: {recorded['cpu']}")
    print(f"raw encoder outputs: {len(recorded['raw']) - len(moved_raw)} of {len(recorded['raw'])} identical")
    print(f"notes: {len(recorded['results']) - len(moved)} of {len(recorded['results'])} identical results")
    for line in moved_raw[:10] + moved[:10]:
        print(f"  differs: {line}")
    return 1 if moved or moved_raw else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
