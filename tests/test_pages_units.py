"""The pages' pure parts: signed session cookies, citation highlighting, autoescaping and colour contrast."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

from notereader.api.pages import session as page_session
from notereader.api.pages.common import env, highlight

CSS = Path(__file__).resolve().parents[1] / "notereader" / "api" / "static" / "pages.css"


def _rt(secret: str = "a-test-secret-of-some-length") -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(signing_secret=secret))


def test_a_signed_cookie_round_trips_and_refuses_tampering_age_and_another_key():
    rt = _rt()
    value = page_session.sign(rt, {"tid": 7, "csrf": "abc", "iat": int(time.time())})
    assert page_session.unsign(rt, value, 60)["tid"] == 7
    raw, mac = value.rsplit(".", 1)
    forged = page_session.sign(_rt("another-secret-entirely"), {"tid": 1, "csrf": "x", "iat": int(time.time())})
    assert page_session.unsign(rt, forged, 60) is None
    assert page_session.unsign(rt, raw + "." + ("0" if mac[0] != "0" else "1") + mac[1:], 60) is None
    old = page_session.sign(rt, {"tid": 7, "csrf": "abc", "iat": int(time.time()) - 120})
    assert page_session.unsign(rt, old, 60) is None
    assert page_session.unsign(rt, "not-a-cookie", 60) is None and page_session.unsign(rt, None, 60) is None


def test_csrf_comparison():
    assert page_session.csrf_ok("abc", "abc")
    assert not page_session.csrf_ok("abc", "abd") and not page_session.csrf_ok("abc", None)
    assert not page_session.csrf_ok("", "")


def test_highlight_cuts_the_text_at_the_citations_and_keeps_every_character():
    text = "One. Two three. Four."
    pieces = highlight(text, [(16, 21), (5, 15)])
    assert "".join(p["text"] for p in pieces) == text
    assert [(p["text"], p["cite"]) for p in pieces if p["cite"]] == [("Two three.", 1), ("Four.", 2)]
    overlapping = highlight(text, [(0, 10), (5, 15)])
    assert "".join(p["text"] for p in overlapping) == text


def test_templates_escape_note_text():
    out = env.from_string("<div>{{ t }}</div>").render(t="<script>alert(1)</script> & \"q\"")
    assert out == "<div>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;q&#34;</div>"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_stylesheet_colours_meet_wcag_aa():
    css = CSS.read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    text_pairs = [("fg", "bg"), ("muted", "bg"), ("link", "bg"), ("fg", "mark"), ("med-fg", "med-bg")]
    for fg, bg in text_pairs:
        assert _contrast(var[fg], var[bg]) >= 4.5, (fg, bg)
    for bg in ("crit-bg", "high-bg"):  # badges: white bold text
        assert _contrast("#ffffff", var[bg]) >= 4.5, bg
    assert _contrast(var["focus"], var["bg"]) >= 3, "the focus outline needs 3:1 against the page"
    assert ".sev-critical::before" in css and ".sev-high::before" in css, "severity is marked by more than colour"


def test_rubric_diff_shows_what_changed_since_the_version_a_finding_used():
    from notereader.paths import rubrics_dir
    from notereader.rubrics.schema import load_rubrics
    from notereader.service.trace import rubric_diff
    from notereader.store.models import Finding, RubricVersion

    active = load_rubrics(rubrics_dir(None))
    current = active.by_id()["housing_loss"]
    older_text = current.text.replace("phrases:\n", "phrases:\n  - an old cue\n", 1)
    old = RubricVersion(rubric_id="housing_loss", version=current.version - 1, content_sha256="0" * 64, text=older_text)
    diff = rubric_diff(Finding(rubric_version=old), active)
    assert diff is not None and not diff["same"] and diff["current_version"] == current.version
    assert "-  - an old cue" in diff["lines"]
    same = RubricVersion(rubric_id="housing_loss", version=current.version, content_sha256=current.sha256, text=current.text)
    assert rubric_diff(Finding(rubric_version=same), active)["same"]
    gone = RubricVersion(rubric_id="retired_rubric", version=1, content_sha256="1" * 64, text="id: retired_rubric\n")
    assert "no longer in the active rubric set" in rubric_diff(Finding(rubric_version=gone), active)["message"]
    assert rubric_diff(Finding(rubric_version=None), active) is None
