"""The compiled-index cache key covers the pipeline's code, so an edit never reuses an index fitted before it."""

from __future__ import annotations

import shutil
from pathlib import Path

from notereader.pipeline.compiled import PACKAGE_ROOT, code_sha256


def _copy_packages(tmp_path: Path) -> Path:
    root = tmp_path / "notereader"
    for package in ("pipeline", "rubrics"):
        shutil.copytree(PACKAGE_ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_copy_hashes_like_the_installed_package(tmp_path):
    assert code_sha256(_copy_packages(tmp_path)) == code_sha256()


def test_an_edited_line_of_context_code_changes_the_key(tmp_path):
    root = _copy_packages(tmp_path)
    before = code_sha256(root)
    context = root / "pipeline" / "context.py"
    context.write_text(context.read_text(encoding="utf-8") + "\n# tried and reverted\n", encoding="utf-8")
    assert code_sha256(root) != before


def test_an_edited_cue_file_changes_the_key(tmp_path):
    root = _copy_packages(tmp_path)
    before = code_sha256(root)
    cues = root / "pipeline" / "data" / "goal_cues.yaml"
    cues.write_text(cues.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert code_sha256(root) != before


def test_compiled_bytecode_does_not_change_the_key(tmp_path):
    root = _copy_packages(tmp_path)
    before = code_sha256(root)
    (root / "pipeline" / "__pycache__").mkdir()
    (root / "pipeline" / "__pycache__" / "context.cpython-311.pyc").write_bytes(b"\x00bytecode")
    assert code_sha256(root) == before
