"""Whole processes: `notereader serve` on built-in defaults and the sweeper (a worker killed mid-job: tests/faults)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from svc_helpers import wait_for

from notereader.service.ingest import store_note
from notereader.store.models import Analysis
from notereader.store.types import utcnow

pytestmark = pytest.mark.service

CANARY = "zebracanary7731 purple lighthouse"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTEREADER_")}
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "notereader", *args], cwd=cwd, env=env, capture_output=True, text=True)


def _serve(tmp_path: Path, env: dict[str, str], *extra: str, ready_within: float = 60) -> tuple[subprocess.Popen[bytes], str]:
    """`notereader serve` in its own session, logging to serve.log; returns once /readyz answers 200."""
    port = _free_port()
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "notereader", "serve", "--port", str(port), *extra], cwd=tmp_path,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: " + (tmp_path / "serve.log").read_text())
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False
    wait_for(up, ready_within, 0.3, "the API to be ready")
    return proc, base


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_serve_on_defaults_starts_redis_and_a_worker_and_never_logs_note_text(tmp_path: Path):
    env = _clean_env()
    assert _run(["db", "upgrade"], tmp_path, env).returncode == 0
    assert (tmp_path / "notereader.db").exists()  # SQLite in the working directory by default
    token = _run(["tokens", "create", "--role", "case_system", "--name", "cms"], tmp_path, env).stdout.strip().splitlines()[-1]
    auditor = _run(["tokens", "create", "--role", "auditor"], tmp_path, env).stdout.strip().splitlines()[-1]
    log_path = tmp_path / "serve.log"
    proc, base = _serve(tmp_path, env)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        assert "/v1/notes" in httpx.get(f"{base}/openapi.json").json()["paths"]
        assert httpx.get(f"{base}/docs").status_code == 200
        text = (f"Phone call with the client. She mentioned {CANARY} twice.\n\n"
                "She said she has been thinking about ending her life and has a plan.")
        note = {"note_id": "canary-1", "client_id": "c-canary", "team": "recovery",
                "written_at": "2026-11-21T12:00:00+01:00", "text": text}
        assert httpx.post(f"{base}/v1/notes", json=note, headers=auth).status_code == 202
        # a rejected body that contains the canary is not logged either
        assert httpx.post(f"{base}/v1/notes", json=note | {"team": "nope"}, headers=auth).status_code == 422

        def analysed():
            r = httpx.get(f"{base}/v1/notes/canary-1/analysis", headers=auth)
            return r if r.status_code == 200 else None
        analysis = wait_for(analysed, 240, 1, "the worker beside the API to analyse the note").json()
        assert analysis["risks"]
        assert CANARY in httpx.get(f"{base}/v1/notes/canary-1", headers=auth).json()["text"]
        finding = 1
        assert httpx.get(f"{base}/v1/findings/{finding}/trace", headers={"Authorization": f"Bearer {auditor}"}).status_code == 200
        assert "notereader_notes_analysed_total 1.0" in httpx.get(f"{base}/metrics").text
    finally:
        _stop(proc)
    logged = log_path.read_text(errors="replace")
    assert "started a private redis-server" in logged and "pipeline loaded" in logged
    for word in CANARY.split():
        assert word not in logged, f"note text reached the log: {word}"
    # the children (redis-server, worker) went with the server
    leftovers = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert leftovers == []


def test_serve_without_redis_says_how_to_get_one(tmp_path: Path):
    env = _clean_env(PATH=str(tmp_path))  # no redis-server on this PATH
    proc = _run(["serve", "--port", str(_free_port())], tmp_path, env)
    assert proc.returncode == 2
    assert "redis-server is not on PATH" in proc.stderr and "apt-get install redis-server" in proc.stderr
    assert "NOTEREADER_REDIS_URL" in proc.stderr


def test_the_sweeper_queues_notes_whose_jobs_were_lost(service):
    """A revision committed with no job in Redis (Redis lost its data) is found and analysed."""
    with service.runtime.sessions() as s, s.begin():
        stored = store_note(s, {"note_id": f"swept-{service.backend}", "client_id": "c-swept", "team": "housing",
                                "written_at": utcnow(), "text": "Client called to reschedule her appointment."}, "acme")
        rid = stored.revision.id
    wait_for(lambda: service.client.get(f"/v1/notes/swept-{service.backend}/analysis",
                                        headers=service.headers("acme")).status_code == 200, 60, 0.5, "the sweeper")
    with service.runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Analysis).where(Analysis.revision_id == rid)) == 1


@pytest.mark.slow
def test_rescore_with_a_new_rubric_version_keeps_old_analyses_and_serves_the_newest(service, tmp_path: Path):
    import shutil

    from fastapi.testclient import TestClient

    from notereader.api.app import create_app
    from notereader.service.runtime import Runtime
    from notereader.settings import Settings
    from svc_helpers import pipeline_loads

    text = "Drove the client to the clinic; she still has no bus pass and relies on rides from neighbours."
    ids = [service.post_note(text=text, written_at="2030-01-0%dT10:00:00Z" % (i + 1))[1]["note_id"] for i in range(2)]
    before = {nid: service.analysis(nid).json() for nid in ids}
    # The analyst edits a rubric: a new version, a new ruleset.
    new_rubrics = tmp_path / "rubrics"
    shutil.copytree(Path(service.runtime.ruleset.directory), new_rubrics)
    path = new_rubrics / "transportation.yaml"
    import re

    bumped = re.sub(r"^version: (\d+)$", lambda m: f"version: {int(m.group(1)) + 1}", path.read_text(), count=1,
                    flags=re.MULTILINE)
    new_version = int(re.search(r"^version: (\d+)$", bumped, re.MULTILINE).group(1))
    path.write_text(bumped.replace("  - bus pass\n", "  - bus pass\n  - rides from neighbours\n", 1))
    assert subprocess.run([sys.executable, "-m", "notereader", "rubrics", "lock", "--rubrics", str(new_rubrics)],
                          capture_output=True).returncode == 0
    # Workers and API are restarted on the new rubrics.
    service.worker.terminate()
    service.worker.wait(60)
    values = {**service.settings_values, "rubrics_dir": str(new_rubrics)}
    runtime = Runtime(Settings(**values), service.runtime.redis_url)
    client = TestClient(create_app(runtime))
    loads = pipeline_loads(service)
    log = open(service.log_dir / "worker-new-rubrics.log", "ab")
    worker = subprocess.Popen([sys.executable, "-m", "notereader", "worker", "--name", f"new-{service.backend}"],
                              env=service.env(rubrics_dir=str(new_rubrics)), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: pipeline_loads(service) > loads, 600, 1, "the worker to compile the new rubrics")
        analyst = service.headers("analyst")
        r = client.post("/v1/rescore", json={"since": "2029-12-31T00:00:00Z"}, headers=analyst)
        assert r.status_code == 202 and r.json()["ruleset_sha256"] == runtime.ruleset.sha256
        status = wait_for(lambda: (s := client.get(r.json()["status_url"], headers=analyst).json())["status"]
                          in ("finished", "failed") and s, 180, 1, "the rescore")
        assert status == status | {"status": "finished", "total": 2, "done": 2}
        for nid in ids:
            after = client.get(f"/v1/notes/{nid}/analysis", headers=service.headers("acme")).json()
            assert after["provenance"]["ruleset"]["sha256"] == runtime.ruleset.sha256
            assert after["provenance"]["ruleset"]["rubrics"]["transportation"]["version"] == new_version
            assert before[nid]["provenance"]["ruleset"]["sha256"] != runtime.ruleset.sha256
            with runtime.sessions() as s:
                from notereader.store.models import NoteRevision
                n = s.scalar(select(func.count()).select_from(Analysis).join(NoteRevision).where(NoteRevision.note_id == nid))
            assert n == 2  # the old analysis is kept
        again = client.post("/v1/rescore", json={"rubric_ids": ["transportation"], "since": "2029-12-31T00:00:00Z"},
                            headers=analyst).json()
        done = wait_for(lambda: (s := client.get(again["status_url"], headers=analyst).json())["status"] == "finished" and s,
                        60, 1, "the second rescore")
        assert done["total"] == 0  # nothing left on the old version
    finally:
        worker.terminate()
        worker.wait(60)
        client.close()
        runtime.close()
        service.worker = service.start_worker(f"w-{service.backend}-3")


def test_serve_with_several_api_processes_shares_one_store_and_stops_them_all(tmp_path: Path):
    env = _clean_env()
    assert _run(["db", "upgrade"], tmp_path, env).returncode == 0
    token = _run(["tokens", "create", "--role", "case_system", "--name", "cms"], tmp_path, env).stdout.strip().splitlines()[-1]
    proc, base = _serve(tmp_path, env, "--workers", "2", "--no-worker", ready_within=90)
    try:
        api_pids = set(subprocess.run(["pgrep", "-f", "multiprocessing.spawn"], capture_output=True, text=True).stdout.split())
        mine = {p for p in api_pids if os.getsid(int(p)) == proc.pid}
        assert len(mine) == 2, f"expected 2 API processes in the session, found {mine}"

        def post(i: int) -> int:
            note = {"note_id": f"multi-{i}", "client_id": f"c-multi-{i % 3}", "team": "recovery",
                    "written_at": "2026-11-21T12:00:00Z", "text": f"Home visit number {i}; the client is settling in."}
            return httpx.post(f"{base}/v1/notes", json=note, headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code

        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, range(40)))
        assert statuses == [202] * 40
        with ThreadPoolExecutor(8) as pool:  # the same notes again, from any process: answered as repeats
            assert list(pool.map(post, range(40))) == [200] * 40
        verify = _run(["audit", "verify"], tmp_path, env)
        assert verify.returncode == 0, verify.stdout + verify.stderr  # one unbroken chain across both processes
    finally:
        _stop(proc)
    # multiprocessing's resource tracker leaves a moment after the parent
    wait_for(lambda: not subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split(),
             15, 0.2, "every process of the server's session to exit")


def test_serve_refuses_zero_api_processes(tmp_path: Path):
    proc = _run(["serve", "--workers", "0"], tmp_path, _clean_env())
    assert proc.returncode != 0 and "--workers 0" in proc.stderr
