"""Goal-direction accuracy under other goal-matching settings, for engine developers.

Goal matching (``pipeline/goals.py``) chooses a clause for each plan goal and
reads its direction, weighing a dozen constants (``GoalSettings``). Judging a
new value with ``notereader eval`` runs the whole pipeline again, about a
minute for the project's four development corpora. But the embeddings, rubric
scores and theme profiles that goal matching reads do not depend on those
constants, so this module runs the pipeline once per corpus, keeps the
processed notes, and redoes only goal matching for each value tried: a sweep
of every constant takes about a minute in all.

Figures are goal-direction accuracy as ``notereader eval`` computes it (a gold
goal counts as right when the reader finds it with the gold direction), per
corpus and pooled over all of them. The present settings' row equals
``notereader eval``'s ``goal_direction_accuracy`` (``tests/test_evaluate_goals.py``).

A value that scores better here is a candidate, not a change: the engine's
constants were chosen on these corpora, so a candidate must also hold on notes
it was not chosen on, and adopting it changes results (an engine version).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notereader.errors import InputError, Problem
from notereader.pipeline.goals import DEFAULT_SETTINGS, GoalSettings, match_goals

# Values tried for each setting when none are given: a step either side of the present value (the present
# settings are always the first row).
DEFAULT_GRID: dict[str, tuple[float | int, ...]] = {
    "goal_threshold": (0.15, 0.25),
    "area_threshold": (0.25, 0.35),
    "label_words": (4, 6),
    "label_penalty": (0.2, 0.4),
    "title_words": (8, 12),
    "title_penalty": (0.4, 0.6),
    "background_penalty": (0.1, 0.3),
    "contact_penalty": (0.05, 0.15),
    "theme_weight": (0.1, 0.3),
    "candidates": (4, 6),
    "other_goal_weight": (0.1, 0.4),
    "margin": (0.05, 0.15),
    "movement_bonus": (0.3, 0.5),
    "cue_bonus": (0.05, 0.15),
    "cue_support": (0.05, 0.15),
    "planned_support": (0.05, 0.2),
}
INTEGER_SETTINGS = {f.name for f in dataclasses.fields(GoalSettings) if f.type in (int, "int")}


@dataclass(frozen=True)
class Trial:
    setting: str | None  # None: the present settings
    value: float | int | None
    correct: dict[str, int]  # corpus path -> gold goals given the gold direction
    total: dict[str, int]    # corpus path -> gold goals


def parse_vary(items: list[str]) -> dict[str, tuple[float | int, ...]]:
    """``NAME=V1,V2`` items (NAME as a ``GoalSettings`` field or its constant, any case) to a grid.

    Every bad item is reported at once, naming the item and what is allowed.
    """
    fields = {f.name for f in dataclasses.fields(GoalSettings)}
    grid: dict[str, tuple[float | int, ...]] = {}
    problems: list[Problem] = []
    for item in items:
        name, sep, values = item.partition("=")
        key = name.strip().lower()
        if not sep or not values.strip():
            problems.append(Problem("--vary", None, item, "must be NAME=V1,V2,... (for example margin=0.05,0.15)"))
            continue
        if key not in fields:
            problems.append(Problem("--vary", None, name, "is not a goal setting; known: " + ", ".join(sorted(fields))))
            continue
        kind = int if key in INTEGER_SETTINGS else float
        parsed: list[float | int] = []
        for v in values.split(","):
            try:
                x = kind(v.strip())
            except ValueError:
                problems.append(Problem("--vary", None, f"{name}={v.strip()}", f"is not a valid {kind.__name__}"))
                continue
            if x < 0 or (key == "candidates" and x < 1):
                problems.append(Problem("--vary", None, f"{name}={v.strip()}",
                                        "must be at least 1" if key == "candidates" else "must not be negative"))
                continue
            parsed.append(x)
        grid[key] = tuple(dict.fromkeys(grid.get(key, ()) + tuple(parsed)))  # a setting named twice: both lists
    if problems:
        raise InputError(problems)
    return grid


def _accuracy(goal_stage: Any, docs: list[tuple[Any, dict[str, str]]], settings: GoalSettings) -> tuple[int, int]:
    correct = total = 0
    for doc, gold in docs:
        hits = {h.goal_id: h.direction for h in
                match_goals(doc, goal_stage.cues, doc._.clause_vectors or {}, goal_stage.model, settings)}
        for goal_id, direction in gold.items():
            total += 1
            correct += hits.get(goal_id) == direction
    return correct, total


def sweep(reader: Any, corpora: dict[str, list[tuple[Any, dict[str, Any]]]],
          grid: dict[str, tuple[float | int, ...]], batch_size: int = 32) -> list[Trial]:
    """The present settings, then each setting of ``grid`` at each of its values (the others as they are)."""
    from notereader.pipeline.components import GOALS

    goal_stage = reader.nlp.get_pipe(GOALS)
    processed: dict[str, list[tuple[Any, dict[str, str]]]] = {}
    for path, corpus in corpora.items():
        docs = reader.process([note for note, _gold in corpus], batch_size=batch_size)
        processed[path] = [(doc, {g["goal_id"]: g["direction"] for g in gold.get("goals", [])})
                           for doc, (_note, gold) in zip(docs, corpus)]

    def trial(setting: str | None, value: float | int | None) -> Trial:
        settings = DEFAULT_SETTINGS if setting is None else dataclasses.replace(DEFAULT_SETTINGS, **{setting: value})
        counts = {path: _accuracy(goal_stage, docs, settings) for path, docs in processed.items()}
        return Trial(setting, value, {p: c for p, (c, _t) in counts.items()}, {p: t for p, (_c, t) in counts.items()})

    out = [trial(None, None)]
    for setting, values in grid.items():
        out += [trial(setting, v) for v in values]
    return out


def to_json(trials: list[Trial]) -> dict[str, Any]:
    base = trials[0]
    pooled_base = sum(base.correct.values())
    present = dataclasses.asdict(DEFAULT_SETTINGS)
    return {
        "settings": present,
        "goals": base.total,
        "trials": [{
            "setting": t.setting, "value": t.value,
            "accuracy": {p: round(t.correct[p] / t.total[p], 3) if t.total[p] else None for p in t.total},
            "pooled_correct": sum(t.correct.values()),
            "pooled_change": sum(t.correct.values()) - pooled_base,
        } for t in trials],
    }


def format_table(trials: list[Trial]) -> str:
    base = trials[0]
    paths = list(base.total)
    names = [Path(p).stem.removesuffix("_notes") for p in paths]
    present = dataclasses.asdict(DEFAULT_SETTINGS)
    pooled_base = sum(base.correct.values())
    head = ("setting", "value", *names, "pooled", "change")
    rows = []
    for t in trials:
        label = "(present settings)" if t.setting is None else t.setting
        value = "" if t.setting is None else f"{t.value} (now {present[t.setting]})"
        accs = [f"{t.correct[p] / t.total[p]:.3f}" if t.total[p] else "-" for p in paths]
        pooled = sum(t.correct.values())
        rows.append((label, value, *accs, f"{pooled}/{sum(t.total.values())}", f"{pooled - pooled_base:+d}"))
    widths = [max(len(str(r[i])) for r in (head, *rows)) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in (head, *rows)]
    return "\n".join(lines)
