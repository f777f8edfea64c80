"""Helpers for the page tests: sign a TestClient in, read a form's CSRF value, post a note that raises flags."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from notereader.store.models import Flag

from svc_helpers import wait_for

# Written for these tests: an eviction and thoughts of suicide (raised), and denied violence (suppressed).
FLAGGED_TEXT = ("Visited Ms. T at her flat. She showed me the eviction notice from her landlord; she must leave by "
                "the 30th.\n\nShe said she has been thinking about killing herself and has a stash of pills at home.\n\n"
                "Client denies that anyone at home hits her.")


IMPACT_WORD = "quillfrond"
IMPACT_NOTE = f"At the visit Mr. D kept repeating the word {IMPACT_WORD} and would not explain it."


def edited_housing_rubric() -> str:
    """The active housing_loss rubric with one more phrase, a made-up word only ``IMPACT_NOTE`` contains."""
    from notereader.paths import rubrics_dir

    text = (rubrics_dir(None) / "housing_loss.yaml").read_text(encoding="utf-8")
    return text.replace("phrases:\n", f"phrases:\n  - {IMPACT_WORD}\n", 1)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def page_client(service: Any, who: str | None = None, token: str | None = None) -> Any:
    """A fresh TestClient (its own cookies) signed in with ``service.tokens[who]`` or ``token``."""
    from fastapi.testclient import TestClient

    client = TestClient(service.client.app)
    if who or token:
        form = client.get("/pages/sign-in")
        r = client.post("/pages/sign-in", data={"token": token or service.tokens[who], "csrf": csrf_of(form.text)},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
    return client


@dataclass(frozen=True)
class FlagView:
    id: int
    finding_id: int
    rubric_id: str
    severity: str
    quotes: list[str]


def flagged_note(service: Any, text: str = FLAGGED_TEXT, team: str = "housing",
                 **fields: Any) -> tuple[dict[str, Any], list[FlagView]]:
    """Post a note, wait for its analysis, and return the note body and its flags, most severe first."""
    r, body = service.post_note(text=text, team=team, client_id=f"c-{uuid.uuid4().hex[:8]}", author_id="cw-9", **fields)
    assert r.status_code == 202, r.text
    service.analysis(body["note_id"])

    def flags() -> list[FlagView]:
        with service.runtime.sessions() as s:
            rows = s.scalars(select(Flag).where(Flag.note_id == body["note_id"]).order_by(Flag.severity_rank.desc(), Flag.id))
            return [FlagView(f.id, f.finding_id, f.rubric_id, f.severity, [c["quote"] for c in f.finding.citations])
                    for f in rows]
    got = wait_for(flags, 30, what=f"flags of {body['note_id']}")
    return body, got
