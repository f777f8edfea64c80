"""Recorded results that must not change unless the provenance says so.

The determinism contract: the same note, rubrics and model files give the
byte-identical Analysis, on any machine; a change that alters a result is a
version change recorded in the provenance (engine version, engine data hash,
model hashes, ruleset hash). ``reference_results.json`` holds, for the
project's own annotated notes, each Analysis's fingerprint and a readable
digest of what it found, together with the provenance they were recorded
under. ``tests/test_reference.py`` analyses the same notes again:

- same provenance, other results: a result changed without a version change,
  or this CPU computes differently from the one that recorded the file. Both
  break the contract; the test names each note and finding that moved.
- other provenance: results are expected to move. Record the file again and
  commit it with the change that moved them:

      python -m tests.reference

Recording rewrites the file from this machine's results; say in the commit
which machine (CPU flags) it was.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = Path(__file__).resolve().parent / "reference_results.json"
NOTES = ("notereader/data/sample_notes.jsonl", "eval/tuning_notes.jsonl")
RECORD_COMMAND = "python -m tests.reference"


def digest(analysis: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer compares: each finding with its score and cited spans, and the fingerprint."""
    def cites(item: dict[str, Any]) -> list[list[int]]:
        return [[c["start"], c["end"]] for c in item.get("citations", [])]

    return {
        "fingerprint": analysis["fingerprint"],
        "risks": [[r["rubric_id"], r["score"], cites(r)] for r in analysis["risks"]],
        "themes": [[t["rubric_id"], t["score"], cites(t)] for t in analysis["themes"]],
        "goals": [[g["goal_id"], g["direction"], g["score"], cites(g)] for g in analysis["goals"]],
        "suppressed": [[s["rubric_id"], s["reason"], s.get("cue"), cites(s)] for s in analysis["suppressed"]],
    }


def reference_notes() -> list[Any]:
    from notereader.notes import read_jsonl

    return [note for rel in NOTES for note in read_jsonl(ROOT / rel)]


def results(reader: Any, notes: Iterable[Any]) -> dict[str, dict[str, Any]]:
    return {a["note_id"]: digest(a) for a in reader.analyze_many(notes, batch_size=16)}


def provenance_key(provenance: dict[str, Any]) -> dict[str, Any]:
    """The parts of the provenance that may change results."""
    return {
        "engine_version": provenance["engine_version"],
        "engine_data_sha256": provenance["engine_data_sha256"],
        "models": provenance["models"],
        "ruleset_sha256": provenance["ruleset"]["sha256"],
    }


def differences(recorded: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    """One line per note and part whose result differs from the recorded one."""
    out = []
    for note_id in sorted(set(recorded) | set(now)):
        a, b = recorded.get(note_id), now.get(note_id)
        if a is None or b is None:
            out.append(f"{note_id}: {'not recorded' if a is None else 'not analysed now'}")
            continue
        for part in ("risks", "themes", "goals", "suppressed"):
            if a[part] != b[part]:
                out.append(f"{note_id} {part}: recorded {a[part]} now {b[part]}")
        if a["fingerprint"] != b["fingerprint"] and all(a[p] == b[p] for p in ("risks", "themes", "goals", "suppressed")):
            out.append(f"{note_id}: same findings, other fingerprint (a quote, paragraph or field outside the digest)")
    return out


def cpu_flags() -> str:
    """The SIMD features that choose onnxruntime's and BLAS's kernels, for the record."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.machine()
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = [f for f in flags if f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")]
    return f"{platform.machine()} {' '.join(sorted(wanted))}".strip()


def record(path: Path = REFERENCE) -> None:
    from notereader.reader import Reader

    reader = Reader()
    data = {
        "about": "Recorded results of the project's own annotated notes; see tests/reference.py. "
                 f"Record again with: {RECORD_COMMAND}",
        "recorded_on": cpu_flags(),
        "provenance": provenance_key(reader.provenance),
        "notes": list(NOTES),
        "results": results(reader, reference_notes()),
    }
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"recorded {len(data['results'])} notes under engine {data['provenance']['engine_version']} "
          f"on {data['recorded_on']} into {path.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    record()
