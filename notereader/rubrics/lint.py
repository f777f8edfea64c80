"""``notereader rubrics lint``: every schema and lock problem, all at once."""

from __future__ import annotations

from pathlib import Path

from notereader.errors import Problem
from notereader.rubrics.lock import check_lock
from notereader.rubrics.schema import load_rubric_dir


def lint(directory: Path) -> list[Problem]:
    rs, problems = load_rubric_dir(directory)
    if rs.rubrics:
        problems += check_lock(rs, directory)
    return problems
