"""The rubric lock file: each rubric's id, version and content SHA-256.

``rubrics/rubrics.lock`` (JSON) is written by ``notereader rubrics lock`` and
read by lint, which fails when a rubric's content changed but its version did
not. That is what makes "rubric v3" mean one exact text forever.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from notereader.errors import Problem
from notereader.rubrics.schema import RubricSet

LOCK_NAME = "rubrics.lock"


def lock_path(directory: Path) -> Path:
    return directory / LOCK_NAME


def render_lock(rs: RubricSet) -> str:
    data = {"ruleset_sha256": rs.sha256,
            "rubrics": {r.id: {"version": r.version, "sha256": r.sha256} for r in rs.rubrics}}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def read_lock(directory: Path) -> tuple[dict[str, Any] | None, list[Problem]]:
    path = lock_path(directory)
    if not path.is_file():
        return None, [Problem(str(path), None, "", "is missing; run `notereader rubrics lock` to create it")]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["rubrics"]
        for e in entries.values():
            int(e["version"]), str(e["sha256"])
        return data, []
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, [Problem(str(path), None, "", f"is malformed ({exc!r}); regenerate it with `notereader rubrics lock`")]


def check_lock(rs: RubricSet, directory: Path) -> list[Problem]:
    """Every disagreement between the rubric files and the lock file."""
    data, problems = read_lock(directory)
    if data is None:
        return problems
    locked: dict[str, dict[str, Any]] = data["rubrics"]
    lp = str(lock_path(directory))
    for r in rs.rubrics:
        entry = locked.get(r.id)
        if entry is None:
            problems.append(Problem(r.path, 1, "id", f"rubric {r.id!r} is not in {LOCK_NAME}; "
                                    "run `notereader rubrics lock` to record it"))
            continue
        v, sha = int(entry["version"]), entry["sha256"]
        if r.version < v:
            problems.append(Problem(r.path, None, "version", f"is {r.version} but {LOCK_NAME} already records "
                                    f"version {v}; versions only go up"))
        elif r.version == v and r.sha256 != sha:
            problems.append(Problem(r.path, None, "version", f"content changed but version is still {v}: findings "
                                    f"made by v{v} would no longer be traceable to its text. Set version: {v + 1}, "
                                    "then run `notereader rubrics lock`"))
        elif r.version > v:
            problems.append(Problem(r.path, None, "version", f"is {r.version} but {LOCK_NAME} records {v}; "
                                    "run `notereader rubrics lock` to record the new version"))
    on_disk = {p.stem for p in directory.iterdir() if p.suffix in (".yaml", ".yml")}
    for rid in sorted(set(locked) - on_disk):
        problems.append(Problem(lp, None, f"rubrics.{rid}", f"lists {rid!r}, which has no rubric file; "
                                "run `notereader rubrics lock` if it was removed on purpose"))
    return problems


def write_lock(rs: RubricSet, directory: Path) -> Path:
    path = lock_path(directory)
    tmp = path.with_suffix(".lock.tmp")
    tmp.write_text(render_lock(rs), encoding="utf-8")
    tmp.replace(path)
    return path
