"""The dev corpus is for measuring: no rubric, data file or test may reuse its wording.

A line that shares RUN consecutive words (lowercased, punctuation dropped) with
a dev note is reported with its file and line; rewrite it in other words. Runs
of this length do not occur by chance in case-work prose (generic phrases such
as "denies any thoughts of hurting herself" are six or seven words).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "corpus" / "dev.jsonl"
RUN = 8
CHECKED = ["rubrics/*.yaml", "models/calibration/*.txt", "notereader/pipeline/data/*.yaml", "notereader/data/*.jsonl", "eval/*.jsonl",
           "eval/candidates/*.yaml",
           "tests/**/*.py"]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _runs(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + RUN]) for i in range(len(words) - RUN + 1)}


@pytest.mark.skipif(not DEV.is_file(), reason=f"the dev corpus is not at {DEV}")
def test_no_line_reuses_the_dev_corpus_wording():
    dev: set[tuple[str, ...]] = set()
    for line in DEV.read_text(encoding="utf-8").splitlines():
        if line.strip():
            dev |= _runs(_words(json.loads(line)["text"]))
    found = []
    for pattern in CHECKED:
        for path in sorted(ROOT.glob(pattern)):
            for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                shared = _runs(_words(line)) & dev
                if shared:
                    found.append(f"{path.relative_to(ROOT)}:{lineno}: shares {' '.join(min(shared))!r}")
    assert not found, "lines that reuse dev-corpus wording (rewrite them in other words):\n" + "\n".join(found)
