"""The pages through FastAPI's TestClient: sign-in, escaping, role access, reviews, trace and rubric quality."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from notereader.store.models import ApiToken, AuditRecord, Flag
from notereader.store.types import utcnow

from page_helpers import FLAGGED_TEXT, IMPACT_NOTE, IMPACT_WORD, csrf_of, edited_housing_rubric, flagged_note, page_client
from svc_helpers import wait_for

pytestmark = pytest.mark.service


def test_sign_in_sets_a_strict_httponly_session_and_sign_out_ends_it(service):
    client = page_client(service)
    form = client.get("/pages/sign-in")
    assert form.status_code == 200 and 'type="password"' in form.text
    r = client.post("/pages/sign-in", data={"token": service.tokens["sup_housing"], "csrf": csrf_of(form.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/pages/queue"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("nr_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/pages" in cookie
    queue = client.get("/pages/queue")
    assert queue.status_code == 200 and "Risk queue" in queue.text
    out = client.post("/pages/sign-out", data={"csrf": csrf_of(queue.text)}, follow_redirects=False)
    assert out.status_code == 303
    after = client.get("/pages/queue", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/pages/sign-in")


def test_a_wrong_token_or_a_forged_cookie_does_not_sign_in(service):
    client = page_client(service)
    form = client.get("/pages/sign-in")
    r = client.post("/pages/sign-in", data={"token": "nr_not-a-token", "csrf": csrf_of(form.text)})
    assert r.status_code == 401 and "unknown or revoked" in r.text
    no_csrf = page_client(service).post("/pages/sign-in", data={"token": service.tokens["sup_housing"]})
    assert no_csrf.status_code == 403
    forged = page_client(service)
    forged.cookies.set("nr_session", "eyJ0aWQiOjF9.00", path="/pages")
    assert forged.get("/pages/queue", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_its_page_session(service):
    token = service.token("supervisor", "sup-temp", ["housing"])
    client = page_client(service, token=token)
    assert client.get("/pages/queue").status_code == 200
    with service.runtime.sessions() as s, s.begin():
        row = s.scalars(select(ApiToken).where(ApiToken.name == "sup-temp")).one()
        row.revoked_at = utcnow()
    assert client.get("/pages/queue", follow_redirects=False).status_code == 303


def test_note_text_is_escaped_not_run(service):
    text = FLAGGED_TEXT + "\n\nShe typed <script>alert('x')</script> & <b>bold</b> into the form."
    body, flags = flagged_note(service, text=text)
    assert flags, "the note should raise a flag"
    client = page_client(service, "sup_housing")
    for url in (f"/pages/flags/{flags[0].id}", f"/pages/clients/{body['client_id']}"):
        page = client.get(url)
        assert page.status_code == 200
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page.text
        assert "<script>alert" not in page.text and "<b>bold" not in page.text


def test_flag_page_shows_the_note_citations_and_why_not_flagged(service):
    body, flags = flagged_note(service)
    client = page_client(service, "sup_housing")
    page = client.get(f"/pages/flags/{flags[0].id}")
    assert page.status_code == 200
    assert '<mark id="cite-1"' in page.text
    analysis = service.analysis(body["note_id"]).json()
    risk = next(r for r in analysis["risks"] if r["rubric_id"] == flags[0].rubric_id)
    for c in risk["citations"]:
        assert c["quote"].replace("'", "&#39;") in page.text
    assert "Why not flagged" in page.text
    assert analysis["suppressed"], "the note's denied violence should be a suppressed mention"
    for s in analysis["suppressed"]:
        assert f'<span class="cue">{s["cue"]}</span>' in page.text and s["reason"].replace("_", " ") in page.text


def test_roles_and_teams_are_enforced_and_audited(service):
    _body, flags = flagged_note(service)
    flag_id = flags[0].id
    assert page_client(service).get("/pages/queue", follow_redirects=False).status_code == 303
    analyst = page_client(service, "analyst")
    assert analyst.get("/pages/queue").status_code == 403
    assert analyst.get(f"/pages/flags/{flag_id}").status_code == 403
    other = page_client(service, "sup_family")
    hidden = other.get(f"/pages/flags/{flag_id}")
    missing = other.get("/pages/flags/999999999")
    assert hidden.status_code == missing.status_code == 404
    assert str(flag_id) in hidden.text and "There is no flag" in hidden.text
    assert f'data-flag-id="{flag_id}"' not in other.get("/pages/queue?status=all").text
    with service.runtime.sessions() as s:
        rec = s.scalars(select(AuditRecord).where(AuditRecord.target == f"flag:{flag_id}",
                                                  AuditRecord.outcome == "refused:404")).all()
    assert rec and rec[-1].actor.startswith("supervisor:sup-f")


def test_review_by_form_needs_csrf_and_a_reason_to_dismiss(service):
    _body, flags = flagged_note(service)
    flag_id = flags[0].id
    client = page_client(service, "sup_housing")
    page = client.get(f"/pages/flags/{flag_id}")
    token = csrf_of(page.text)
    no_csrf = client.post(f"/pages/flags/{flag_id}/review", data={"action": "dismiss", "reason": "not current"})
    assert no_csrf.status_code == 403
    no_reason = client.post(f"/pages/flags/{flag_id}/review", data={"action": "dismiss", "reason": " ", "csrf": token})
    assert no_reason.status_code == 422 and "reason is required" in no_reason.text
    with service.runtime.sessions() as s:
        assert s.get(Flag, flag_id).status == "open"
    ok = client.post(f"/pages/flags/{flag_id}/review", data={"action": "dismiss", "reason": "Talked about a film plot",
                                                              "csrf": token}, follow_redirects=False)
    assert ok.status_code == 303
    shown = client.get(ok.headers["location"])
    assert "Talked about a film plot" in shown.text and 'id="flag-status">dismissed' in shown.text
    queue = client.get("/pages/queue")
    assert f'data-flag-id="{flag_id}"' not in queue.text
    again = client.post(f"/pages/flags/{flag_id}/review", data={"action": "resolve", "csrf": token})
    assert again.status_code == 409


def test_queue_filters_and_live_part(service):
    body, flags = flagged_note(service)
    client = page_client(service, "sup_housing")
    sev = flags[0].severity
    page = client.get(f"/pages/queue?severity={sev}&client={body['client_id']}")
    assert page.status_code == 200 and f'data-flag-id="{flags[0].id}"' in page.text
    assert "badge sev-" in page.text
    other_worker = client.get(f"/pages/queue?client={body['client_id']}&worker=someone-else")
    assert f'data-flag-id="{flags[0].id}"' not in other_worker.text
    bad = client.get("/pages/queue?since=yesterday")
    assert bad.status_code == 422 and "is not a date" in bad.text
    live = client.get(f"/pages/queue/live?client={body['client_id']}")
    assert live.status_code == 200 and f'data-flag-id="{flags[0].id}"' in live.text
    version = live.text.split('data-version="', 1)[1].split('"', 1)[0]
    assert client.get(f"/pages/queue/live?client={body['client_id']}&seen={version}").status_code == 204


def test_pages_carry_security_headers_and_the_api_keeps_its_content_rules(service):
    r = page_client(service).get("/pages/sign-in")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert service.client.get("/pages/static/queue.js").status_code == 200
    api = service.client.post("/v1/notes", data={"note_id": "x"}, headers=service.headers("acme"))
    assert api.status_code == 415
    limit = service.runtime.settings.max_body_bytes
    big = page_client(service).post("/pages/sign-in", data={"token": "x" * (limit + 1)})
    assert big.status_code == 413


def test_client_timeline_shows_notes_flags_and_goal_signals(service):
    plan = {"goals": [{"goal_id": "home", "text": "Keep stable housing"}]}
    body, flags = flagged_note(service, plan=plan)
    page = page_client(service, "sup_housing").get(f"/pages/clients/{body['client_id']}")
    assert page.status_code == 200 and "Keep stable housing" in page.text and body["note_id"] in page.text
    assert f"/pages/flags/{flags[0].id}" in page.text
    analysis = service.analysis(body["note_id"]).json()
    for g in analysis["goals"]:
        assert g["direction"] in page.text
    assert page_client(service, "sup_family").get(f"/pages/clients/{body['client_id']}").status_code == 404
    assert page_client(service, "auditor").get(f"/pages/clients/{body['client_id']}").status_code == 200


def test_trace_page_verifies_and_reruns_on_a_worker(service):
    _body, flags = flagged_note(service)
    auditor = page_client(service, "auditor")
    url = f"/pages/findings/{flags[0].finding_id}/trace"
    page = auditor.get(url)
    assert page.status_code == 200 and 'id="all-verified"><span class="yes">Yes' in page.text
    assert "id=\"rubric-same\"" in page.text
    assert page_client(service, "sup_housing").get(url).status_code == 403
    r = auditor.post(f"/pages/findings/{flags[0].finding_id}/rerun", data={"csrf": csrf_of(page.text)},
                     follow_redirects=False)
    assert r.status_code == 303
    done = wait_for(lambda: (p := auditor.get(r.headers["location"])).text.count('id="rerun-result"') and p, 120,
                    what="the re-run check")
    assert "Reproduces." in done.text


def test_rubric_quality_json_and_page(service):
    _body, flags = flagged_note(service)
    sup = page_client(service, "sup_housing")
    token = csrf_of(sup.get(f"/pages/flags/{flags[0].id}").text)
    sup.post(f"/pages/flags/{flags[0].id}/review", data={"action": "dismiss", "reason": "quoted a song", "csrf": token})
    rid = flags[0].rubric_id
    r = service.client.get(f"/v1/rubrics/quality?rubric_id={rid}", headers=service.headers("analyst"))
    assert r.status_code == 200
    (row,) = r.json()["rubrics"]
    assert row["raised"] >= 1 and row["dismissed"] >= 1 and row["reviewed"] >= row["dismissed"]
    assert row["precision"] == round(row["confirmed"] / (row["confirmed"] + row["dismissed"]), 4)
    mine = next(d for d in row["dismissed_flags"] if d["flag_id"] == flags[0].id)
    assert mine["reason"] == "quoted a song" and mine["sentences"] == flags[0].quotes
    assert sum(m["raised"] for m in row["by_month"]) == row["raised"] == sum(v["raised"] for v in row["by_version"])
    assert service.client.get("/v1/rubrics/quality", headers=service.headers("sup_housing")).status_code == 403
    assert "/v1/rubrics/quality" in service.client.get("/openapi.json").json()["paths"]
    page = page_client(service, "analyst").get("/pages/rubrics/quality")
    assert page.status_code == 200 and "quoted a song" in page.text


@pytest.mark.slow
def test_rubric_impact_lists_the_flags_an_edited_rubric_would_gain(service):
    """Compiles an edited rubric set on the worker (about 90 s the first time on a machine)."""
    _r, body = service.post_note(text=IMPACT_NOTE)
    service.analysis(body["note_id"])
    edited = edited_housing_rubric()
    analyst = page_client(service, "analyst")
    form = analyst.get("/pages/rubrics/impact")
    bad = analyst.post("/pages/rubrics/impact", data={"csrf": csrf_of(form.text)},
                       files=[("files", ("housing_loss.yaml", b"id: [unclosed", "application/x-yaml"))])
    assert bad.status_code == 422 and "housing_loss.yaml" in bad.text
    r = analyst.post("/pages/rubrics/impact", data={"csrf": csrf_of(form.text)},
                     files=[("files", ("housing_loss.yaml", edited.encode(), "application/x-yaml"))],
                     follow_redirects=False)
    assert r.status_code == 303, r.text
    done = wait_for(lambda: 'id="impact-summary"' in (p := analyst.get(r.headers["location"])).text and p, 600, 2,
                    "the rubric impact check")
    assert "changed rubrics: housing_loss" in done.text
    gained = done.text.split("Flags gained", 1)[1].split("Flags lost", 1)[0]
    assert body["note_id"] in gained and IMPACT_WORD in gained
