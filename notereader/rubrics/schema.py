"""Load and validate rubric YAML files against a closed schema.

Every problem in every file is collected and reported at once with its file,
line and key path. YAML anchors and aliases are refused (they are never needed
in a rubric, and alias expansion is how a "billion laughs" file exhausts
memory), as are files over ``MAX_FILE_BYTES`` (checked before reading) and
nesting deeper than ``MAX_DEPTH`` (PyYAML composes recursively, so a file of
a few thousand ``[`` would otherwise end in a RecursionError, not a message).
Rubrics accept no regular expressions anywhere: phrases are literal and
matched as spaCy tokens, so no rubric can make matching backtrack.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from notereader.errors import Problem, RubricError

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 20  # a rubric needs 3 levels (examples -> flag -> sentence)
KINDS = ("risk", "theme")
SEVERITIES = ("critical", "high", "medium")
SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1}
NOT_WHEN = ("negated", "historical", "hypothetical", "other_person", "resolved", "screening_negative")
ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
MIN_EXAMPLES = 6

# key -> (required, description) ; the schema is closed to any other key.
TOP_KEYS: dict[str, bool] = {
    "id": True, "version": True, "kind": True, "title": True, "severity": False,
    "description": True, "look_for": True, "phrases": False, "not_like": False,
    "threshold": False, "not_when": False, "implied_by": False, "examples": True, "known_failures": False,
}
KNOWN_FAILURE_RE = re.compile(r"^(flag|no_flag)\[(\d+)\]$")
EXAMPLE_KEYS = {"flag": True, "no_flag": True}


@dataclass(frozen=True)
class Rubric:
    """One validated rubric (what to look for); matches are a different type."""

    id: str
    version: int
    kind: str
    title: str
    severity: str | None
    description: str
    look_for: tuple[str, ...]
    phrases: tuple[str, ...]
    not_like: tuple[str, ...]
    threshold: float | None
    not_when: tuple[str, ...]
    implied_by: tuple[str, ...]
    examples_flag: tuple[str, ...]
    examples_no_flag: tuple[str, ...]
    path: str
    text: str
    # Examples the engine is known to get wrong, each with the reason: `notereader rubrics test` reports
    # them apart from failures, and fails when one of them starts passing (so the list stays true).
    # Not part of the hash: they change no result.
    known_failures: tuple[tuple[str, str], ...] = ()

    def content(self) -> dict[str, Any]:
        """Everything but the version, in canonical form: what the hash covers."""
        body = {
            "id": self.id, "kind": self.kind, "title": self.title, "severity": self.severity,
            "description": self.description, "look_for": list(self.look_for),
            "phrases": list(self.phrases), "not_like": list(self.not_like),
            "threshold": self.threshold, "not_when": list(self.not_when),
            "examples": {"flag": list(self.examples_flag), "no_flag": list(self.examples_no_flag)},
        }
        if self.implied_by:  # only when used, so older rubrics keep their hashes
            body["implied_by"] = list(self.implied_by)
        return body

    @cached_property  # a frozen dataclass: computed once (the API reads it on every request)
    def sha256(self) -> str:
        body = json.dumps(self.content(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


class _Refused(yaml.YAMLError):
    """YAML this loader will not compose, with the line where it starts."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that refuses anchors, aliases and nesting deeper than ``MAX_DEPTH``."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()
                raise _Refused(event.start_mark.line + 1, f"nests more than {MAX_DEPTH} levels deep; "
                                                          "a rubric is a flat mapping of texts and lists")
            return self._compose_checked(parent, index)
        finally:
            self._depth -= 1

    def _compose_checked(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(event.start_mark.line + 1, "uses a YAML alias (*name); aliases are not allowed in rubric files")
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise _Refused(event.start_mark.line + 1, "uses a YAML anchor (&name); anchors and aliases are not allowed "
                                                      "in rubric files (alias expansion is how a YAML bomb exhausts memory)")
        return super().compose_node(parent, index)


class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def err(self, node: Node | None, key: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(Problem(self.path, line, key, message))

    def mapping(self, node: Node, key: str) -> dict[str, tuple[Node, Node]] | None:
        if not isinstance(node, MappingNode):
            self.err(node, key, f"must be a mapping of keys to values, found {_kind(node)}")
            return None
        out: dict[str, tuple[Node, Node]] = {}
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                self.err(k, key or "(top level)", f"has {_kind(k)} as a key; keys must be plain words")
                continue
            name = k.value
            if name in out:
                self.err(k, f"{key}.{name}".lstrip("."), "appears twice; keep one")
            out[name] = (k, v)
        return out

    def string(self, node: Node, key: str, *, allow_empty: bool = False) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.err(node, key, f"must be text, found {_kind(node)}")
            return None
        if not allow_empty and not node.value.strip():
            self.err(node, key, "must not be empty")
            return None
        return node.value.strip()

    def string_list(self, node: Node, key: str, *, min_items: int = 0) -> list[str]:
        if not isinstance(node, SequenceNode):
            self.err(node, key, f"must be a list of texts, found {_kind(node)}")
            return []
        items = []
        seen: set[str] = set()
        for i, child in enumerate(node.value):
            s = self.string(child, f"{key}[{i}]")
            if s is None:
                continue
            if s.lower() in seen:
                self.err(child, f"{key}[{i}]", f"repeats an earlier entry ({s!r}); remove the duplicate")
            seen.add(s.lower())
            items.append(s)
        if len(items) < min_items:
            self.err(node, key, f"needs at least {min_items} entr{'y' if min_items == 1 else 'ies'}, found {len(items)}")
        return items


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, ScalarNode):
        tag = node.tag.rsplit(":", 1)[-1]
        return {"str": "text", "int": "a number", "float": "a number", "bool": "true/false", "null": "nothing"}.get(tag, tag)
    return type(node).__name__


def parse_rubric(path: Path, text: str) -> tuple[Rubric | None, list[Problem]]:
    """Validate one rubric file's text; return the rubric or the problems."""
    c = _Checker(str(path))
    try:
        root = yaml.compose(text, Loader=_NoAliasLoader)  # a SafeLoader subclass; compose builds no objects
    except _Refused as exc:
        return None, [Problem(str(path), exc.line, "", exc.message)]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return None, [Problem(str(path), line, "", f"is not valid YAML: {exc.problem}")]
    except yaml.YAMLError as exc:
        return None, [Problem(str(path), None, "", f"is not valid YAML: {exc}")]
    if root is None:
        return None, [Problem(str(path), 1, "", "is empty; a rubric needs at least id, version, kind, title, description, look_for and examples")]
    top = c.mapping(root, "")
    if top is None:
        return None, c.problems
    for name, (knode, _v) in top.items():
        if name not in TOP_KEYS:
            c.err(knode, name, f"unknown key; allowed keys are {', '.join(TOP_KEYS)}")
    for name, required in TOP_KEYS.items():
        if required and name not in top:
            c.err(root, name, "is required but missing")

    def get(name: str) -> Node | None:
        return top[name][1] if name in top else None

    rid = c.string(get("id"), "id") if get("id") is not None else None
    if rid is not None:
        if not ID_RE.match(rid):
            c.err(get("id"), "id", "must be snake_case: a lowercase letter, then lowercase letters, digits or _")
        elif rid != path.stem:
            c.err(get("id"), "id", f"is {rid!r} but the file is named {path.name}; the id and file name must agree")
    version = None
    vnode = get("version")
    if vnode is not None:
        if isinstance(vnode, ScalarNode) and vnode.tag == "tag:yaml.org,2002:int" and int(vnode.value) >= 1:
            version = int(vnode.value)
        else:
            c.err(vnode, "version", f"must be a whole number >= 1, found {vnode.value if isinstance(vnode, ScalarNode) else _kind(vnode)}")
    kind = c.string(get("kind"), "kind") if get("kind") is not None else None
    if kind is not None and kind not in KINDS:
        c.err(get("kind"), "kind", f"must be one of {', '.join(KINDS)}, found {kind!r}")
    title = c.string(get("title"), "title") if get("title") is not None else None
    description = c.string(get("description"), "description") if get("description") is not None else None
    severity = None
    snode = get("severity")
    if kind == "risk":
        if snode is None:
            c.err(root, "severity", f"is required for a risk rubric: one of {', '.join(SEVERITIES)}")
        else:
            severity = c.string(snode, "severity")
            if severity is not None and severity not in SEVERITIES:
                c.err(snode, "severity", f"must be one of {', '.join(SEVERITIES)}, found {severity!r}")
    elif kind == "theme" and snode is not None:
        c.err(snode, "severity", "is for risk rubrics only; remove it from a theme")
    look_for = c.string_list(get("look_for"), "look_for", min_items=1) if get("look_for") is not None else []
    phrases = c.string_list(get("phrases"), "phrases") if get("phrases") is not None else []
    not_like = c.string_list(get("not_like"), "not_like") if get("not_like") is not None else []
    threshold = None
    tnode = get("threshold")
    if tnode is not None:
        if isinstance(tnode, ScalarNode) and tnode.tag in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:int"):
            threshold = float(tnode.value)
            if not 0.0 < threshold < 1.0:
                c.err(tnode, "threshold", f"must be between 0 and 1 (exclusive), found {tnode.value}")
        else:
            c.err(tnode, "threshold", f"must be a number between 0 and 1, found {_kind(tnode)}")
    not_when: list[str] = []
    nnode = get("not_when")
    if nnode is not None:
        not_when = c.string_list(nnode, "not_when")
        for i, w in enumerate(not_when):
            if w not in NOT_WHEN:
                c.err(nnode, f"not_when[{i}]", f"unknown context {w!r}; allowed: {', '.join(NOT_WHEN)}")
    implied_by: list[str] = []
    inode = get("implied_by")
    if inode is not None:
        if kind == "risk":
            c.err(inode, "implied_by", "is for themes only: a theme that a raised risk always implies")
        else:
            implied_by = c.string_list(inode, "implied_by")
    flag: list[str] = []
    no_flag: list[str] = []
    enode = get("examples")
    if enode is not None:
        ex = c.mapping(enode, "examples")
        if ex is not None:
            for name, (knode, _v) in ex.items():
                if name not in EXAMPLE_KEYS:
                    c.err(knode, f"examples.{name}", "unknown key; allowed keys are flag, no_flag")
            for name in EXAMPLE_KEYS:
                if name not in ex:
                    c.err(enode, f"examples.{name}", f"is required: at least {MIN_EXAMPLES} example sentences")
            if "flag" in ex:
                flag = c.string_list(ex["flag"][1], "examples.flag", min_items=MIN_EXAMPLES)
            if "no_flag" in ex:
                no_flag = c.string_list(ex["no_flag"][1], "examples.no_flag", min_items=MIN_EXAMPLES)
    known: list[tuple[str, str]] = []
    knode = get("known_failures")
    if knode is not None:
        entries = c.mapping(knode, "known_failures")
        examples = {"flag": flag, "no_flag": no_flag}
        for name, (key_node, value_node) in (entries or {}).items():
            m = KNOWN_FAILURE_RE.match(name)
            if m is None:
                c.err(key_node, f"known_failures.{name}", "must name an example as flag[N] or no_flag[N]")
                continue
            if int(m.group(2)) >= len(examples[m.group(1)]):
                c.err(key_node, f"known_failures.{name}",
                      f"names no example: examples.{m.group(1)} has {len(examples[m.group(1)])} (counted from 0)")
                continue
            why = c.string(value_node, f"known_failures.{name}")
            if why is not None:
                known.append((name, why))
    if c.problems:
        return None, c.problems
    assert rid and version and kind and title and description is not None  # nosec B101 # type narrowing; no problems means each was set above
    return Rubric(
        id=rid, version=version, kind=kind, title=title, severity=severity, description=description,
        look_for=tuple(look_for), phrases=tuple(phrases), not_like=tuple(not_like), threshold=threshold,
        not_when=tuple(not_when) if nnode is not None else (NOT_WHEN if kind == "risk" else ()),
        implied_by=tuple(implied_by),
        examples_flag=tuple(flag), examples_no_flag=tuple(no_flag), path=str(path), text=text,
        known_failures=tuple(known),
    ), []


def read_rubric_file(path: Path) -> tuple[Rubric | None, list[Problem]]:
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, [Problem(str(path), None, "", f"cannot be read: {exc.strerror}")]
    if size > MAX_FILE_BYTES:
        return None, [Problem(str(path), None, "", f"is {size} bytes; rubric files are limited to {MAX_FILE_BYTES} bytes")]
    with path.open("rb") as f:  # read at most one byte past the limit: a file may grow, or be /dev/zero
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        return None, [Problem(str(path), None, "", f"is over {MAX_FILE_BYTES} bytes; rubric files are limited to "
                                                   f"{MAX_FILE_BYTES} bytes")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), None, "", f"is not UTF-8 (byte {exc.start}); save it as UTF-8")]
    return parse_rubric(path, text)


@dataclass(frozen=True)
class RubricSet:
    """All rubrics of one directory, sorted by id, with the ruleset hash."""

    rubrics: tuple[Rubric, ...]
    directory: str

    @cached_property
    def sha256(self) -> str:
        body = "\n".join(f"{r.id} {r.version} {r.sha256}" for r in self.rubrics)
        return hashlib.sha256(body.encode()).hexdigest()

    def by_id(self) -> dict[str, Rubric]:
        return {r.id: r for r in self.rubrics}

    def provenance(self) -> dict[str, Any]:
        return {"sha256": self.sha256,
                "rubrics": {r.id: {"version": r.version, "sha256": r.sha256} for r in self.rubrics}}


def load_rubric_dir(directory: Path) -> tuple[RubricSet, list[Problem]]:
    """Load every *.yaml in ``directory``; return what loaded and every problem."""
    problems: list[Problem] = []
    rubrics: list[Rubric] = []
    if not directory.is_dir():
        return RubricSet((), str(directory)), [Problem(str(directory), None, "", "is not a directory of rubric files")]
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    if not files:
        problems.append(Problem(str(directory), None, "", "holds no *.yaml rubric files"))
    seen: dict[str, str] = {}
    for path in files:
        rubric, errs = read_rubric_file(path)
        problems += errs
        if rubric is None:
            continue
        if rubric.id in seen:
            problems.append(Problem(str(path), 1, "id", f"duplicate id {rubric.id!r}, also used by {seen[rubric.id]}"))
            continue
        seen[rubric.id] = str(path)
        rubrics.append(rubric)
    rubrics.sort(key=lambda r: r.id)
    risks = {r.id for r in rubrics if r.kind == "risk"}
    for r in rubrics:
        for i, rid in enumerate(r.implied_by):
            if rid not in risks:
                problems.append(Problem(r.path, None, f"implied_by[{i}]",
                                        f"names {rid!r}, which is not a risk rubric in {directory}"))
    return RubricSet(tuple(rubrics), str(directory)), problems


def load_rubrics(directory: Path) -> RubricSet:
    """Load a rubric directory or raise RubricError listing every problem."""
    rs, problems = load_rubric_dir(directory)
    if problems:
        raise RubricError(problems)
    return rs
