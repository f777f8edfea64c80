"""The engine's cue and lexicon files (notereader/pipeline/data) say each key once.

YAML lets a key appear twice and keeps the last value silently: an analyst who
adds a second ``progress:`` list, or a stray ``roles:`` line, would lose half of
the file without an error. The rubric loader reports such keys with their line;
these files are read with ``yaml.safe_load``, so this test is their check.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from notereader.paths import PIPELINE_DATA_DIR


def _keys_said_twice(path: Path) -> list[str]:
    node = yaml.compose(path.read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(n: yaml.Node, where: str) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for k, v in n.value:
                key = str(k.value)
                if key in seen:
                    found.append(f"{path.name}:{k.start_mark.line + 1}: {where}{key} (first on line {seen[key]})")
                seen.setdefault(key, k.start_mark.line + 1)
                walk(v, f"{where}{key}.")
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, f"{where}[{i}].")

    if node is not None:
        walk(node, "")
    return found


@pytest.mark.parametrize("path", sorted(PIPELINE_DATA_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_no_key_is_said_twice(path):
    assert not _keys_said_twice(path), "\n".join(_keys_said_twice(path))


def test_a_key_said_twice_is_found_with_its_line(tmp_path):
    f = tmp_path / "roles.yaml"
    f.write_text("roles: a note\nroles:\n  bf: boyfriend\n", encoding="utf-8")
    assert _keys_said_twice(f) == ["roles.yaml:2: roles (first on line 1)"]
