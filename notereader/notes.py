"""Note input: validation of one note record and reading JSONL files.

A note is ``{note_id, text, plan?: {goals: [{goal_id, text}]}}``; other keys
are ignored. Every problem is reported with file, line and key, and a file
with any bad line is rejected whole, so no output is ever half-written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from notereader.errors import InputError, Problem

MAX_TEXT_BYTES = 200 * 1024


@dataclass(frozen=True)
class Note:
    note_id: str
    text: str
    goals: tuple[tuple[str, str], ...] = ()


def validate_note(obj: Any, where: str = "<note>", line: int | None = None) -> tuple[Note | None, list[Problem]]:
    problems: list[Problem] = []

    def bad(key: str, msg: str) -> None:
        problems.append(Problem(where, line, key, msg))

    if not isinstance(obj, dict):
        bad("", f"must be a JSON object, found {type(obj).__name__}")
        return None, problems
    note_id = obj.get("note_id")
    if not isinstance(note_id, str) or not note_id.strip():
        bad("note_id", "is required: a non-empty string naming the note in the case system")
    text = obj.get("text")
    if not isinstance(text, str):
        bad("text", "is required: the note's text as a string")
    elif not text.strip():
        bad("text", "is empty or only whitespace; there is nothing to read")
    else:
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > MAX_TEXT_BYTES:
            bad("text", f"is {size} bytes; notes are limited to {MAX_TEXT_BYTES} bytes (split the document)")
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            bad("text", "contains an unpaired UTF-16 surrogate (invalid Unicode); re-export the note as UTF-8")
        if "\x00" in text:
            bad("text", "contains a NUL character (U+0000), which PostgreSQL cannot store and no note needs; "
                        "remove it (it usually comes from a binary file or a bad export)")
    goals: list[tuple[str, str]] = []
    plan = obj.get("plan")
    if plan is not None:
        if not isinstance(plan, dict):
            bad("plan", "must be an object with a 'goals' list")
        else:
            raw_goals = plan.get("goals", [])
            if not isinstance(raw_goals, list):
                bad("plan.goals", "must be a list of {goal_id, text}")
                raw_goals = []
            seen: set[str] = set()
            for i, g in enumerate(raw_goals):
                key = f"plan.goals[{i}]"
                if not isinstance(g, dict):
                    bad(key, "must be an object {goal_id, text}")
                    continue
                gid, gtext = g.get("goal_id"), g.get("text")
                if not isinstance(gid, str) or not gid.strip():
                    bad(f"{key}.goal_id", "is required: a non-empty string")
                    continue
                if gid in seen:
                    bad(f"{key}.goal_id", f"{gid!r} is used by an earlier goal; goal ids must be unique within a plan")
                    continue
                seen.add(gid)
                if not isinstance(gtext, str) or not gtext.strip():
                    bad(f"{key}.text", "is required: the goal's text, non-empty")
                    continue
                goals.append((gid, gtext))
    if problems:
        return None, problems
    assert isinstance(note_id, str) and isinstance(text, str)  # nosec B101 # type narrowing; no problems means both were checked to be str above
    return Note(note_id, text, tuple(goals)), []


def _json_lines(path: Path) -> tuple[list[tuple[int, Any]], list[Problem]]:
    """(line number, parsed object) for each non-blank line, and every bad line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [Problem(str(path), None, "", f"cannot be read: {exc.strerror}")]
    objects: list[tuple[int, Any]] = []
    problems: list[Problem] = []
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(path), lineno, "", f"is not valid UTF-8 (byte {exc.start} of the line)"))
            continue
        try:
            objects.append((lineno, json.loads(decoded)))
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), lineno, "", f"is not valid JSON: {exc.msg} at column {exc.colno}"))
    return objects, problems


def read_jsonl(path: Path) -> list[Note]:
    """Read and validate a whole JSONL file; raise InputError with every bad line."""
    objects, problems = _json_lines(path)
    notes: list[Note] = []
    for lineno, obj in objects:
        note, errs = validate_note(obj, str(path), lineno)
        problems += errs
        if note is not None:
            notes.append(note)
    if problems:
        raise InputError(sorted(problems, key=lambda p: p.line or 0))
    return notes


def iter_json_objects(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) for each non-blank line; raises InputError on any bad line."""
    objects, problems = _json_lines(path)
    if problems:
        raise InputError(problems)
    yield from objects
