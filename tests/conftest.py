"""Shared fixtures. The Reader (model + compiled rubrics) is loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_CORPUS = ROOT.parent / "shared" / "corpus" / "dev.jsonl"
NEGEX = ROOT.parent / "shared" / "external" / "negex" / "rsAnnotations-1-120-random.txt"


@pytest.fixture(scope="session")
def reader():
    from notereader.reader import Reader

    return Reader()


@pytest.fixture(scope="session")
def nlp():
    import spacy

    return spacy.blank("en")


@pytest.fixture(scope="session")
def context_rules(nlp):
    from notereader.pipeline.context import ContextRules

    return ContextRules(nlp)


@pytest.fixture()
def rubric_dir(tmp_path: Path) -> Path:
    """A copy of the starter rubrics (and lock) that a test may edit."""
    import shutil

    d = tmp_path / "rubrics"
    shutil.copytree(ROOT / "rubrics", d)
    return d


def pytest_collection_modifyitems(config, items):
    if not DEV_CORPUS.exists():
        skip = pytest.mark.skip(reason=f"{DEV_CORPUS} not present (shared/ is beside the checkout in CI)")
        for item in items:
            if "dev_corpus" in item.keywords:
                item.add_marker(skip)
