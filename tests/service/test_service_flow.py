"""Notes in, analyses out: through the API, Redis and a real worker process, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from rq.job import Job
from sqlalchemy import func, select

from notereader.notes import Note
from notereader.service.queueing import analysis_job_id
from notereader.store.models import Analysis, Flag

from svc_helpers import pipeline_loads, wait_for

pytestmark = pytest.mark.service

RISKY = ("Home visit. The client told me her landlord served an eviction notice on Friday and she has to be out by "
         "the end of the month.\n\nShe also said she has been thinking about ending her life and has been saving "
         "up her pills.\n\nPlan: safety plan today, call legal aid tomorrow.")
PLAN = {"goals": [{"goal_id": "housing", "text": "Keep stable housing"},
                  {"goal_id": "work", "text": "Find a part-time job"}]}


def test_analysis_is_exactly_what_the_cli_reader_gives(service, reader):
    r, body = service.post_note(text=RISKY, plan=PLAN)
    assert r.status_code == 202
    accepted = r.json()
    assert accepted["status_url"] == f"/v1/notes/{body['note_id']}/analysis" and accepted["revision"] == 1
    got = service.analysis(body["note_id"])
    expected = reader.analyze(Note(body["note_id"], RISKY, tuple((g["goal_id"], g["text"]) for g in PLAN["goals"])))
    assert got.json() == expected
    assert got.headers["x-notereader-fingerprint"] == expected["fingerprint"]
    assert {x["rubric_id"] for x in expected["risks"]}, "the example note should raise risks"


def test_pending_then_unknown(service):
    assert service.client.get("/v1/notes/never-posted/analysis", headers=service.headers("acme")).status_code == 404


def test_same_note_twice_is_idempotent_and_a_changed_text_is_a_new_revision(service):
    r1, body = service.post_note()
    r2 = service.client.post("/v1/notes", json=body, headers=service.headers("acme"))
    assert (r1.status_code, r2.status_code) == (202, 200)
    assert r1.json() == r2.json()
    job_id = analysis_job_id_for(service, body["note_id"], 1)
    service.analysis(body["note_id"])
    r3 = service.client.post("/v1/notes", json=body | {"text": body["text"] + " Follow-up booked."},
                             headers=service.headers("acme"))
    assert r3.status_code == 202 and r3.json()["revision"] == 2
    got = wait_for(lambda: (a := service.analysis(body["note_id"]).json())["text_sha256"] == r3.json()["text_sha256"] and a,
                   90, what="the second revision's analysis")
    assert got["note_id"] == body["note_id"]
    note = service.client.get(f"/v1/notes/{body['note_id']}", headers=service.headers("acme")).json()
    assert note["text"] == body["text"] + " Follow-up booked." and [x["revision"] for x in note["revisions"]] == [1, 2]
    with service.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Analysis).join(Analysis.revision).where(
            Analysis.revision.property.mapper.class_.note_id == body["note_id"])) == 2
    assert Job.fetch(job_id, connection=service.runtime.redis).get_status() == "finished"


def test_a_post_the_store_cannot_take_in_time_is_503_and_a_repeat_stores_it_once(service, monkeypatch):
    """The route waits for the writer's commit without a thread; past INGEST_WAIT_SECONDS it answers 503."""
    import uuid

    from notereader.api.routers import notes as notes_router
    from notereader.store.models import AuditHead, NoteRevision

    monkeypatch.setattr(notes_router, "INGEST_WAIT_SECONDS", 0.5)
    body = {"note_id": f"n-{uuid.uuid4().hex[:10]}", "client_id": f"c-{uuid.uuid4().hex[:8]}", "team": "housing",
            "written_at": "2026-11-20T10:00:00Z", "text": "Phone call with the client about the rent ledger."}
    # another transaction holds the audit chain's head (and on SQLite the write lock) for longer than the wait
    with service.runtime.sessions() as s, s.begin():
        s.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update())
        r = service.client.post("/v1/notes", json=body, headers=service.headers("acme"))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["detail"][0]["type"] == "store_timeout"
    # the writer had begun that post, so it is stored once the lock is gone; a repeat is answered 200 (or
    # 202 had it not been stored), never stored twice
    again = wait_for(lambda: (x := service.client.post("/v1/notes", json=body, headers=service.headers("acme")))
                     .status_code in (200, 202) and x, 30, what="the repeat post")
    assert again.json()["revision"] == 1
    with service.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(NoteRevision).where(NoteRevision.note_id == body["note_id"])) == 1


def analysis_job_id_for(service, note_id: str, revision: int) -> str:
    from notereader.store.models import NoteRevision

    with service.runtime.sessions() as s:
        rid = s.scalar(select(NoteRevision.id).where(NoteRevision.note_id == note_id, NoteRevision.revision == revision))
    return analysis_job_id(rid, service.runtime.ruleset.sha256)


def test_text_is_stored_exactly_as_received(service):
    text = "Line one.\r\n\r\n  Line two with trailing spaces   \r\nEmoji 🙂 and 漢字.\t"
    r, body = service.post_note(text=text)
    assert r.status_code == 202
    got = service.client.get(f"/v1/notes/{body['note_id']}", headers=service.headers("acme")).json()
    assert got["text"] == text
    analysis = service.analysis(body["note_id"]).json()
    for item in analysis["risks"] + analysis["themes"]:
        for c in item["citations"]:
            assert text[c["start"]:c["end"]] == c["quote"]


def test_a_second_run_of_the_same_job_writes_nothing(service):
    r, body = service.post_note()
    service.analysis(body["note_id"])
    from notereader.store.models import NoteRevision

    with service.runtime.sessions() as s:
        rid = s.scalar(select(NoteRevision.id).where(NoteRevision.note_id == body["note_id"]))
    job = service.runtime.queue.enqueue("notereader.service.jobs.analyze_revision", rid)  # a stray duplicate
    wait_for(lambda: job.get_status() in ("finished", "failed"), 60, what="the duplicate job")
    assert job.get_status() == "finished" and job.return_value()["created"] is False
    with service.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Analysis).where(Analysis.revision_id == rid)) == 1


def test_worker_loads_the_pipeline_once_for_many_jobs(service):
    loads_before = pipeline_loads(service)
    ids = [service.post_note(text=f"Phone call {i}. Client confirmed the appointment.")[1]["note_id"] for i in range(4)]
    for nid in ids:
        service.analysis(nid)
    jobs = [Job.fetch(analysis_job_id_for(service, nid, 1), connection=service.runtime.redis) for nid in ids]
    results = [j.return_value() for j in jobs]
    assert len({(r["worker_pid"], r["load_id"]) for r in results}) == 1
    assert pipeline_loads(service) == loads_before  # no job loaded anything


def test_risk_queue_orders_filters_pages_and_reviews(service):
    client_id = "rq-client-" + service.backend
    older, _ = service.post_note(text=RISKY, client_id=client_id, written_at="2026-11-01T09:00:00Z")
    newer, _ = service.post_note(text=RISKY, client_id=client_id, written_at="2026-11-15T09:00:00Z")
    family, _ = service.post_note(text=RISKY, team="family", written_at="2026-11-16T09:00:00Z")
    for r in (older, newer, family):
        service.analysis(r.json()["note_id"])
    sup = service.headers("sup_housing")
    page = service.client.get("/v1/risk-queue", params={"client_id": client_id, "limit": 2}, headers=sup).json()
    items = page["items"]
    assert all(i["client"]["client_id"] == client_id for i in items)
    ranks = {"critical": 3, "high": 2, "medium": 1}
    collected = list(items)
    while page["next_cursor"]:
        page = service.client.get("/v1/risk-queue", params={"client_id": client_id, "limit": 2,
                                                            "cursor": page["next_cursor"]}, headers=sup).json()
        collected += page["items"]
    keys = [(-ranks[i["severity"]], -int(i["note"]["written_at"][8:10])) for i in collected]
    assert keys == sorted(keys) and len({i["flag_id"] for i in collected}) == len(collected)
    assert {i["note"]["note_id"] for i in collected} == {older.json()["note_id"], newer.json()["note_id"]}
    first = collected[0]
    assert first["quote"]["quote"] and first["quote"]["quote"] in RISKY
    crit = service.client.get("/v1/risk-queue", params={"client_id": client_id, "min_severity": "critical"}, headers=sup).json()
    assert crit["items"] and all(i["severity"] == "critical" for i in crit["items"])
    window = service.client.get("/v1/risk-queue", params={"client_id": client_id, "since": "2026-11-10T00:00:00Z",
                                                          "until": "2026-11-20T00:00:00Z"}, headers=sup).json()
    assert {i["note"]["note_id"] for i in window["items"]} == {newer.json()["note_id"]}
    # another team's flag: not in the queue, and 404 when asked for directly
    fam_flags = service.client.get("/v1/risk-queue", headers=service.headers("sup_family")).json()["items"]
    fam_flag = next(i for i in fam_flags if i["note"]["note_id"] == family.json()["note_id"])
    assert service.client.get(f"/v1/flags/{fam_flag['flag_id']}", headers=sup).status_code == 404
    assert service.client.post(f"/v1/flags/{fam_flag['flag_id']}/review", json={"action": "acknowledge"},
                               headers=sup).status_code == 404
    # reviews: each kept in the history
    fid = first["flag_id"]
    assert service.client.post(f"/v1/flags/{fid}/review", json={"action": "acknowledge"}, headers=sup).status_code == 200
    r = service.client.post(f"/v1/flags/{fid}/review", json={"action": "dismiss", "reason": "worker confirmed no risk"},
                            headers=sup)
    assert r.status_code == 200
    history = r.json()["history"]
    assert [(h["action"], h["to_status"]) for h in history] == [("acknowledge", "acknowledged"), ("dismiss", "dismissed")]
    assert history[1]["reason"] == "worker confirmed no risk"
    assert service.client.post(f"/v1/flags/{fid}/review", json={"action": "resolve"}, headers=sup).status_code == 409
    open_ids = {i["flag_id"] for i in service.client.get("/v1/risk-queue", params={"client_id": client_id},
                                                         headers=sup).json()["items"]}
    assert fid not in open_ids


def test_trace_reverifies_the_quote_and_shows_the_rubric_text(service):
    r, body = service.post_note(text=RISKY)
    service.analysis(body["note_id"])
    with service.runtime.sessions() as s:
        flag = s.scalars(select(Flag).where(Flag.note_id == body["note_id"])).first()
        finding_id, rubric_id = flag.finding_id, flag.rubric_id
    t = service.client.get(f"/v1/findings/{finding_id}/trace", headers=service.headers("auditor"))
    assert t.status_code == 200
    trace = t.json()
    assert trace["all_verified"] is True
    c = trace["citations"][0]
    assert RISKY[c["start"]:c["end"]] == c["quote"] and c["quote"] in c["paragraph"]["text"]
    assert RISKY[c["paragraph"]["start"]:c["paragraph"]["end"]] == c["paragraph"]["text"]
    rubric = service.runtime.ruleset.by_id()[rubric_id]
    assert trace["rubric"] == {"rubric_id": rubric_id, "version": rubric.version, "content_sha256": rubric.sha256,
                               "text": rubric.text}
    assert trace["provenance"]["ruleset"]["sha256"] == service.runtime.ruleset.sha256
    assert service.client.get(f"/v1/findings/{finding_id}/trace", headers=service.headers("sup_housing")).status_code == 403


def test_reads_and_reviews_are_audited_and_the_chain_verifies(service):
    r, body = service.post_note()
    service.analysis(body["note_id"])
    service.client.get(f"/v1/notes/{body['note_id']}", headers=service.headers("acme"))
    log = service.client.get("/v1/audit", params={"target": f"note:{body['note_id']}"}, headers=service.headers("auditor"))
    actions = [x["action"] for x in log.json()["records"]]
    assert actions[0] == "note.received" and "analysis.read" in actions and "note.read" in actions
    v = service.client.post("/v1/audit/verify", headers=service.headers("auditor")).json()
    assert v["intact"] is True and v["checked"] > 3


def test_plan_put_makes_new_versions_used_by_later_notes(service, reader):
    r, body = service.post_note()
    cid = body["client_id"]
    p = service.client.put(f"/v1/clients/{cid}/plan", json=PLAN, headers=service.headers("acme"))
    assert p.status_code == 200 and p.json()["version"] == 1
    same = service.client.put(f"/v1/clients/{cid}/plan", json=PLAN, headers=service.headers("acme"))
    assert same.json()["version"] == 1
    text = "She started a part-time job at the bakery this week and is keeping up with rent."
    r2, body2 = service.post_note(client_id=cid, text=text)
    got = service.analysis(body2["note_id"]).json()
    expected = reader.analyze(Note(body2["note_id"], text, tuple((g["goal_id"], g["text"]) for g in PLAN["goals"])))
    assert got == expected and got["goals"]
    assert service.client.put(f"/v1/clients/{cid}/plan", json=PLAN, headers=service.headers("other_cms")).status_code == 404
    new = service.client.put("/v1/clients/brand-new/plan", json=PLAN, headers=service.headers("acme"))
    assert new.status_code == 422 and new.json()["detail"][0]["field"] == "team"


def test_rescore_with_the_same_rubrics_has_nothing_to_do(service):
    r = service.client.post("/v1/rescore", json={"since": "2026-01-01T00:00:00Z"}, headers=service.headers("analyst"))
    assert r.status_code == 202
    url = r.json()["status_url"]
    status = wait_for(lambda: (s := service.client.get(url, headers=service.headers("analyst")).json())["status"]
                      in ("finished", "failed") and s, 60, what="the rescore")
    assert status["status"] == "finished" and status["done"] == status["total"]
    bad = service.client.post("/v1/rescore", json={"rubric_ids": ["no_such_rubric"]}, headers=service.headers("analyst"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "rubric_ids"


def test_readyz_healthz_and_metrics(service):
    assert service.client.get("/healthz").json() == {"status": "ok"}
    ready = service.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"redis": "ok", "database": "ok", "model": "ok"}
    r, body = service.post_note()
    service.analysis(body["note_id"])
    text = service.client.get("/metrics").text
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert values["notereader_notes_received_total"] >= 1
    assert values["notereader_notes_analysed_total"] >= 1
    assert values["notereader_analysis_seconds_count"] >= 1
    assert values["notereader_pipeline_loads_total"] >= 1
    assert 'notereader_queue_depth{queue="notereader"}' in values
