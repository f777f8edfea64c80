"""Pipeline benchmarks: one worker process's throughput, its compute floor, cold start and memory.

- **cold start**: a fresh process imports notereader, verifies the model files,
  loads the model, compiles (or loads cached) rubrics and analyses one note;
  then analyses more notes, and reports its peak RSS (what a worker costs).
- **throughput**: notes/s and sentences/s, warm, at batch sizes 1 and 32, on
  the typical note (under 200 words) and on the full length mix.
- **encoder profile**: onnxruntime's profiler over the same sentences, one
  thread: each operator type's share and the encoder's dense arithmetic rate
  (``encoder_profile.py``), for the pipeline's model and float32.
- **reference**: the same distinct sentences through sentence-transformers
  alone (float32, batch 32, as shipped), and through each pinned model's
  encoder (PyTorch float64, ONNX float32, ONNX int8 per tensor, per channel and static); the pipeline's sentence
  rate as a ratio of the sentence-transformers rate says how close it gets to
  that floor (above 100%: it beats it).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from notereader.bench.corpus import BenchNote, build_corpus, describe, typical
from notereader.notes import Note


def _clauses(reader: Any, notes: list[BenchNote]) -> list[str]:
    from notereader.pipeline.components import SEGMENTER

    seg = reader.nlp.get_pipe(SEGMENTER)
    out = []
    for n in notes:
        doc = seg(reader.nlp.make_doc(n.text))
        out += doc._.scoring_texts
        out += [t for readings in doc._.reported_texts if readings for t in readings]
    return out


def _forget(embedder: Any) -> None:
    """Empty the encoder's sentence cache so a measured run encodes every sentence (the corpus repeats little)."""
    clear = getattr(embedder, "clear_cache", None)
    if clear is not None:
        clear()


def _rate(reader: Any, notes: list[BenchNote], batch_size: int, sentences: int) -> dict[str, Any]:
    batch = [Note(n.note_id, n.text) for n in notes]
    _forget(reader.embedder)
    started = time.perf_counter()
    for _ in reader.analyze_many(batch, batch_size=batch_size):
        pass
    seconds = time.perf_counter() - started
    return {"batch_size": batch_size, "notes": len(notes), "seconds": round(seconds, 2),
            "notes_per_s": round(len(notes) / seconds, 1), "sentences_per_s": round(sentences / seconds, 1)}


def throughput(reader: Any, corpus: list[BenchNote], n: int) -> dict[str, Any]:
    typical_notes = typical(corpus, n)
    mixed = corpus[:n]
    warm = corpus[-20:]
    for _ in reader.analyze_many([Note(x.note_id, x.text) for x in warm], batch_size=32):
        pass
    out: dict[str, Any] = {}
    for label, notes in (("typical_under_200_words", typical_notes), ("length_mix", mixed)):
        sentences = len(_clauses(reader, notes))
        out[label] = {"sentences": sentences, "mean_words": round(sum(x.words for x in notes) / len(notes), 1),
                      "runs": [_rate(reader, notes, bs, sentences) for bs in (1, 32)]}
    return out


def reference(reader: Any, corpus: list[BenchNote], n: int, models: tuple[str, ...] = ()) -> dict[str, Any]:
    """The embedding floor for the typical notes' distinct sentences, and each named model's encoder rate."""
    from sentence_transformers import SentenceTransformer

    from notereader.pipeline.embedder import load_embedder

    models = tuple(dict.fromkeys((reader.embedder.manifest.name, *models)))
    distinct = sorted(set(_clauses(reader, typical(corpus, n))))
    manifest = reader.embedder.manifest
    root = (manifest.base or manifest).verify()
    plain = SentenceTransformer(str(root), device="cpu", local_files_only=True)
    plain.encode(distinct[:64], batch_size=32)
    started = time.perf_counter()
    plain.encode(distinct, batch_size=32, show_progress_bar=False)
    fp32 = time.perf_counter() - started
    del plain
    rates = {}
    for name in models:
        embedder = reader.embedder if name == manifest.name else load_embedder(name)
        embedder.encode(distinct[:16])
        _forget(embedder)
        started = time.perf_counter()
        embedder.encode(distinct)
        rates[name] = round(len(distinct) / (time.perf_counter() - started), 1)
    return {"distinct_sentences": len(distinct),
            "sentence_transformers_fp32_sentences_per_s": round(len(distinct) / fp32, 1),
            "model": manifest.name, "embedder_sentences_per_s": rates}


COLD_SCRIPT = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from notereader.reader import Reader
from notereader.notes import Note
from notereader.bench.corpus import build_corpus
t_import = time.perf_counter()
reader = Reader()
t_loaded = time.perf_counter()
corpus = build_corpus(int(sys.argv[2]))
first = next(reader.analyze_many([Note(corpus[0].note_id, corpus[0].text)], batch_size=1))
t_first = time.perf_counter()
for _ in reader.analyze_many([Note(n.note_id, n.text) for n in corpus[: int(sys.argv[1])]], batch_size=32):
    pass
t_end = time.perf_counter()
print(json.dumps({"import_s": round(t_import - t0, 2), "load_verify_compile_s": round(t_loaded - t_import, 2),
                  "time_to_first_result_s": round(t_first - t0, 2), "notes_after_first": int(sys.argv[1]),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def cold_start(notes_after: int, corpus_size: int, model: str) -> dict[str, Any]:
    """A fresh worker-like process: time to first result and peak RSS after more notes."""
    proc = subprocess.run([sys.executable, "-c", COLD_SCRIPT, str(notes_after), str(corpus_size)],  # nosec B603 # fixed argv (this interpreter, our own script), no shell
                          capture_output=True, text=True,
                          env=dict(os.environ, TOKENIZERS_PARALLELISM="false", NOTEREADER_MODEL=model))
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start process failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


ALL_MODELS = ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-onnx-fp32", "all-MiniLM-L6-v2-onnx-int8", "all-MiniLM-L6-v2-onnx-int8-pc",
              "all-MiniLM-L6-v2-onnx-int8-static", "all-MiniLM-L6-v2-int8-exact")


def run_pipeline_benches(*, smoke: bool = False, notes: int = 300, corpus_size: int = 2000,
                         reader: Any = None, model: str | None = None) -> dict[str, Any]:
    from notereader.pipeline.embedder import model_name
    from notereader.reader import Reader

    if smoke:
        notes, corpus_size = 12, 200
    model = model_name(model)
    corpus = build_corpus(corpus_size)
    result: dict[str, Any] = {"corpus": describe(corpus), "cpu_count": os.cpu_count(), "model": model,
                              "load_average_at_start": list(os.getloadavg())}
    result["cold_start"] = cold_start(min(notes, 200), corpus_size, model)
    reader = reader or Reader(model=model)
    result["throughput"] = throughput(reader, corpus, notes)
    result["reference"] = reference(reader, corpus, notes, () if smoke else ALL_MODELS)
    typical32 = result["throughput"]["typical_under_200_words"]["runs"][1]
    result["pipeline_vs_fp32_reference"] = round(
        typical32["sentences_per_s"] / result["reference"]["sentence_transformers_fp32_sentences_per_s"], 3)
    result["encoder_profile"] = encoder_profiles(reader, corpus, notes, model, smoke)
    result["bench_process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def encoder_profiles(reader: Any, corpus: list[BenchNote], n: int, model: str, smoke: bool) -> list[dict[str, Any]]:
    """Where the pipeline encoder's time goes (and float32's, beside it) on the typical notes' sentences."""
    from notereader.bench.encoder_profile import profile_encoder, profile_exact
    from notereader.pipeline.embedder import FP32_MODEL, load_embedder

    texts = _clauses(reader, typical(corpus, n))
    if hasattr(reader.embedder, "network"):  # the exact int8 encoder: its own stages
        out = [profile_exact(reader.embedder, texts)]
    elif hasattr(reader.embedder, "session"):
        out = [profile_encoder(reader.embedder, texts)]
    else:
        return []  # the PyTorch model: no profile
    if model != FP32_MODEL and not smoke:
        out.append(profile_encoder(load_embedder(FP32_MODEL, num_threads=1), texts))
    return out
