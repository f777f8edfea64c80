"""Same input, same fingerprint: across batch sizes, thread counts, note order
and fresh processes, on every note of the dev corpus."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from tests.conftest import DEV_CORPUS

pytestmark = [pytest.mark.slow, pytest.mark.dev_corpus]


@pytest.fixture(scope="module")
def dev_notes():
    from notereader.notes import read_jsonl

    return read_jsonl(DEV_CORPUS)


@pytest.fixture(scope="module")
def baseline(reader, dev_notes):
    return {a["note_id"]: a["fingerprint"] for a in reader.analyze_many(dev_notes, batch_size=16)}


def _uncached(reader):
    """Forget the encoder's remembered sentence vectors, so that the next run really encodes every sentence."""
    clear = getattr(reader.embedder, "clear_cache", None)
    if clear is not None:
        clear()
    return reader


@pytest.mark.parametrize("batch_size", [1, 64])
def test_batch_size_does_not_change_results(reader, dev_notes, baseline, batch_size):
    got = {a["note_id"]: a["fingerprint"] for a in _uncached(reader).analyze_many(dev_notes, batch_size=batch_size)}
    assert got == baseline


def test_shuffled_order_does_not_change_results(reader, dev_notes, baseline):
    notes = list(dev_notes)
    random.Random(7).shuffle(notes)
    got = {a["note_id"]: a["fingerprint"] for a in _uncached(reader).analyze_many(notes, batch_size=16)}
    assert got == baseline


@pytest.mark.parametrize("threads", [1, 3])
def test_thread_count_does_not_change_results(reader, dev_notes, baseline, threads):
    from notereader.pipeline.embedder import load_embedder
    from notereader.reader import Reader

    fresh = Reader(reader.ruleset, embedder=load_embedder(reader.embedder.manifest.name, num_threads=threads))
    got = {a["note_id"]: a["fingerprint"] for a in fresh.analyze_many(dev_notes, batch_size=16)}
    assert got == baseline, f"{threads} encoder threads"


def test_fresh_process_gives_the_same_results(baseline, tmp_path):
    out = tmp_path / "out.jsonl"
    subprocess.run([sys.executable, "-m", "notereader", "analyze", "--jsonl", str(DEV_CORPUS), "--out", str(out),
                    "--batch-size", "7", "--threads", "1"], check=True)
    got = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        a = json.loads(line)
        got[a["note_id"]] = a["fingerprint"]
    assert got == baseline


def test_changing_cue_data_changes_provenance(reader, tmp_path, monkeypatch):
    """A cue-file edit alters results, so it must alter provenance too."""
    import notereader.pipeline.context as context
    from notereader.reader import Reader

    edited = tmp_path / "context_rules.yaml"
    edited.write_text(context.RULES_PATH.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    monkeypatch.setattr(context, "RULES_PATH", edited)
    monkeypatch.setattr(context.ContextRules.__init__, "__defaults__", (edited,))
    other = Reader(reader.ruleset, embedder=reader.embedder)
    assert other.provenance["engine_data_sha256"] != reader.provenance["engine_data_sha256"]
