"""Results recorded earlier (possibly on another CPU) are reproduced exactly, or the provenance says why not.

See ``tests/reference.py`` for the file and how to record it again.
"""

from __future__ import annotations

import json

import pytest

from tests.reference import (
    NOTES,
    RECORD_COMMAND,
    REFERENCE,
    differences,
    provenance_key,
    reference_notes,
    results,
)


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def test_the_reference_covers_the_notes_it_names(recorded):
    assert recorded["notes"] == list(NOTES)
    assert sorted(recorded["results"]) == sorted(n.note_id for n in reference_notes())


def test_recorded_results_are_reproduced_under_the_same_provenance(reader, recorded):
    now = provenance_key(reader.provenance)
    then = recorded["provenance"]
    if now != then:
        changed = ", ".join(f"{k}: {then.get(k)} -> {now[k]}" for k in now if then.get(k) != now[k])
        pytest.fail(f"The provenance changed ({changed}), so results may have moved on purpose. Check that they "
                    f"moved as intended, then record them again with `{RECORD_COMMAND}` and commit "
                    f"{REFERENCE.name} with the change.")
    diff = differences(recorded["results"], results(reader, reference_notes()))
    assert not diff, (
        f"Same provenance as recorded (on {recorded['recorded_on']}), other results: either a change altered results "
        "without changing the engine version, data or ruleset hash, or this CPU computes differently. "
        "Either breaks the determinism contract.\n" + "\n".join(diff[:40]))


def test_a_moved_score_is_named_with_its_note():
    a = {"n1": {"fingerprint": "x", "risks": [["self_harm", 0.71, [[0, 5]]]], "themes": [], "goals": [],
                "suppressed": []}}
    b = json.loads(json.dumps(a))
    b["n1"]["risks"][0][1] = 0.7101
    b["n1"]["fingerprint"] = "y"
    assert differences(a, b) == ["n1 risks: recorded [['self_harm', 0.71, [[0, 5]]]] now [['self_harm', 0.7101, [[0, 5]]]]"]
    assert differences(a, {}) == ["n1: not analysed now"]
