"""Error types with codes, in the style of spaCy's coded errors.

Every error says what was wrong, why it matters and what to do. Errors that
point at input carry a location (file, line, key path) so that a CLI message
or an HTTP body can name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class NotereaderError(Exception):
    """Base class. ``code`` is stable and can be searched for in the docs."""

    code = "E000"

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"[{self.code}] {self.message}"
        if self.hint:
            text += f"\n  What to do: {self.hint}"
        return text


class ModelIntegrityError(NotereaderError):
    """A pinned model file is missing or its SHA-256 differs from models/."""

    code = "E101"


class ModelManifestError(NotereaderError):
    """The model manifest under models/ is missing or malformed."""

    code = "E102"


@dataclass(frozen=True)
class Problem:
    """One located problem in an input file."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f" [{self.key}]"
        return f"{where}: {self.message}"


@dataclass
class ProblemList(Exception):
    """Raised with every problem found at once, never just the first."""

    problems: list[Problem] = field(default_factory=list)
    code: str = "E200"

    def __str__(self) -> str:
        lines = [f"[{self.code}] {len(self.problems)} problem(s):"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class RubricError(ProblemList):
    """The rubric files do not load or do not pass lint."""


class InputError(ProblemList):
    """A note input file (JSONL) has a bad line."""
