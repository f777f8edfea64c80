"""What the fault scenarios share: their scale, their notes, the faults themselves, and the store check.

The scale: ``NOTEREADER_FAULT_SCALE`` multiplies the full-size loads of
issue 7 (10,000 notes in the burst, 1,000 queued when Redis loses its data).
``1`` is the full size; CI runs the default, ``0.01``, so that the suite fits
in its time budget on a 2-core machine (see docs/reliability.md).

The check, ``tally``, is SQL on the store: for every note a scenario posted
(they share a note-id prefix), exactly one revision, exactly one analysis of
it, exactly the findings that analysis lists, and exactly one set of flags,
namely the risks the current analysis raised, each pointing at that
analysis's finding.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import httpx
from sqlalchemy import text

from notereader.bench.stack import free_port, wait_until

FULL_BURST = 10_000
FULL_REDIS_QUEUED = 1_000
DEFAULT_SCALE = 0.01


def scale() -> float:
    raw = os.environ.get("NOTEREADER_FAULT_SCALE", str(DEFAULT_SCALE))
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"NOTEREADER_FAULT_SCALE={raw!r} is not a number; give e.g. 1 for the full 10,000-note "
                         f"burst, or {DEFAULT_SCALE} (the CI default)") from None
    if not 0 < value <= 1:
        raise ValueError(f"NOTEREADER_FAULT_SCALE={raw!r} must be in (0, 1]: it scales issue 7's full loads down")
    return value


def scaled(full: int, minimum: int) -> int:
    return max(minimum, round(full * scale()))


# ---------------------------------------------------------------- notes

OPENERS = [
    "Checked in with {name} by phone about the week ahead.",
    "Office visit with {name}; we went over the bus schedule and the new work hours.",
    "{name} dropped by the front desk to hand in the signed release form.",
    "Home visit: {name} had the kettle on and the kitchen was in good order.",
    "Short call with {name} to confirm the Thursday appointment at the benefits office.",
    "{name} brought in two pay stubs so we could finish the rent recertification.",
]
MIDDLES = [
    "The heating bill came down after the weatherisation work last month.",
    "{name} has been walking the dog every morning and says it helps.",
    "The youngest started at the new daycare and settled in quickly.",
    "We practised the phone call to the landlord about the broken window latch.",
    "{name} is on the waiting list for the evening welding course.",
    "The food pantry hours changed, so we wrote the new times on the fridge calendar.",
]
RISKS = [
    "{name} told me the landlord taped an eviction notice to the door yesterday and gave them until Friday to leave.",
    "{name} said that lately they have been thinking about killing themselves and have been giving things away.",
    "{name} said the partner shoved them into the wall last night and took their phone so they could not call anyone.",
    "{name} has been sleeping in the car behind the grocery store since the apartment was lost.",
]
NAMES = ["Robin", "Jessamy", "Teodor", "Wanjiru", "Caspian", "Ilse", "Marisol", "Quentin", "Nadia", "Osei"]
TEAMS = ["housing", "family", "reentry", "recovery", "adult-protective"]


def fault_notes(prefix: str, n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` short notes of the tests' own wording, ids ``<prefix>-00000``...; every fourth raises a risk."""
    rng = random.Random(f"{seed}-{prefix}")
    notes = []
    for i in range(n):
        name = rng.choice(NAMES)
        sentences = [rng.choice(OPENERS), rng.choice(MIDDLES)]
        if i % 4 == 0:
            sentences.append(RISKS[(i // 4) % len(RISKS)])
        sentences.append(f"Next contact in {rng.randint(2, 21)} days (visit {i}).")
        notes.append({"note_id": f"{prefix}-{i:05d}", "client_id": f"{prefix}-client-{i % 97}",
                      "team": TEAMS[(i % 97) % len(TEAMS)], "written_at": "2026-11-20T09:30:00Z",
                      "text": " ".join(s.format(name=name) for s in sentences)})
    return notes


# ---------------------------------------------------------------- posting

@dataclass
class PostResult:
    note_id: str
    status: int
    retry_after: str | None
    at: float


def post_all(api_url: str, token: str, notes: list[dict[str, Any]], threads: int = 8,
             timeout: float = 60) -> list[PostResult]:
    """POST every note to the real API from ``threads`` client threads; one result per note (no retries)."""
    headers = {"Authorization": f"Bearer {token}"}
    local = threading.local()

    def one(note: dict[str, Any]) -> PostResult:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=api_url, headers=headers, timeout=timeout)
        try:
            r = client.post("/v1/notes", json=note)
            return PostResult(note["note_id"], r.status_code, r.headers.get("retry-after"), time.time())
        except httpx.HTTPError:
            return PostResult(note["note_id"], 0, None, time.time())

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, notes))


# ---------------------------------------------------------------- the store check

@dataclass
class Tally:
    """What the store holds for the notes one scenario posted (note ids starting with ``prefix``)."""

    prefix: str
    posted: int
    stored: int = 0
    analysed_once: int = 0
    lost: int = 0
    duplicate_revisions: int = 0
    duplicate_analyses: int = 0
    findings_mismatched: int = 0
    flags: int = 0
    flags_wrong: int = 0
    deliveries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.duplicate_revisions + self.duplicate_analyses + self.findings_mismatched + self.flags_wrong

    def assert_clean(self) -> None:
        assert self.problems == [] and self.lost == 0 and self.duplicates == 0 and self.stored == self.posted, \
            json.dumps(asdict(self) | {"problems": self.problems[:20]}, indent=1)


def tally(engine: Any, prefix: str, posted: int) -> Tally:
    """Count, with SQL, what the store holds for the ``posted`` notes whose ids start with ``prefix``."""
    t = Tally(prefix, posted)
    like = {"p": prefix + "-%"}
    with engine.connect() as c:
        revs = c.execute(text("SELECT note_id, count(*) FROM note_revisions WHERE note_id LIKE :p GROUP BY note_id"), like).all()
        t.stored = len(revs)
        t.duplicate_revisions = sum(n - 1 for _, n in revs)
        per_note = c.execute(text(
            "SELECT r.note_id, count(a.id) FROM note_revisions r LEFT JOIN analyses a ON a.revision_id = r.id "
            "WHERE r.note_id LIKE :p GROUP BY r.note_id"), like).all()
        t.analysed_once = sum(n == 1 for _, n in per_note)
        t.duplicate_analyses = sum(max(0, n - 1) for _, n in per_note)
        t.lost = posted - t.analysed_once - sum(n > 1 for _, n in per_note)
        t.problems += [f"{nid}: {n} analyses" for nid, n in per_note if n != 1]
        # each analysis has exactly the findings its body lists, no more (nothing written twice)
        rows = c.execute(text(
            "SELECT a.id, a.body, (SELECT count(*) FROM findings f WHERE f.analysis_id = a.id) "
            "FROM analyses a JOIN note_revisions r ON r.id = a.revision_id WHERE r.note_id LIKE :p"), like).all()
        current: dict[int, set[str]] = {}
        for aid, body, n in rows:
            b = json.loads(body)
            if n != len(b["risks"]) + len(b["themes"]) + len(b["goals"]):
                t.findings_mismatched += 1
                t.problems.append(f"analysis {aid}: {n} findings stored, {len(b['risks']) + len(b['themes']) + len(b['goals'])} in its body")
            current[aid] = {r["rubric_id"] for r in b["risks"]}
        # one set of flags per note: the current analysis's risks, each pointing at that analysis's finding
        flags = c.execute(text(
            "SELECT fl.note_id, fl.rubric_id, fl.status, fi.analysis_id FROM flags fl JOIN findings fi ON fi.id = fl.finding_id "
            "WHERE fl.note_id LIKE :p"), like).all()
        t.flags = len(flags)
        analysis_of = dict(c.execute(text(
            "SELECT r.note_id, a.id FROM analyses a JOIN note_revisions r ON r.id = a.revision_id WHERE r.note_id LIKE :p"),
            like).all())
        seen: dict[str, set[str]] = {}
        for note_id, rubric_id, status, aid in flags:
            if aid != analysis_of.get(note_id) or status != "open" or rubric_id in seen.get(note_id, set()):
                t.flags_wrong += 1
                t.problems.append(f"{note_id}: flag {rubric_id} ({status}) points at analysis {aid}, "
                                  f"current is {analysis_of.get(note_id)}")
            seen.setdefault(note_id, set()).add(rubric_id)
        for note_id, aid in analysis_of.items():
            if seen.get(note_id, set()) != current.get(aid, set()):
                t.flags_wrong += 1
                t.problems.append(f"{note_id}: flags {sorted(seen.get(note_id, set()))}, "
                                  f"risks of its analysis {sorted(current.get(aid, set()))}")
        t.deliveries = c.execute(text("SELECT count(*) FROM webhook_deliveries WHERE note_id LIKE :p"), like).scalar_one()
    return t


def record(scenario: str, t: Tally, **extra: Any) -> None:
    """Append a scenario's measured figures to ``$NOTEREADER_FAULT_REPORT`` (JSON lines), when set."""
    path = os.environ.get("NOTEREADER_FAULT_REPORT")
    row = {"scenario": scenario, "scale": scale(), "posted": t.posted, "stored": t.stored, "lost": t.lost,
           "duplicates": t.duplicates, "flags": t.flags, "deliveries": t.deliveries,
           "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())} | extra
    print(f"\nFAULT {json.dumps(row)}")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


def wait_drained(engine: Any, prefix: str, posted: int, timeout: float, what: str,
                 check: Callable[[], None] | None = None) -> Tally:
    """Wait until every posted note has an analysis (``check`` runs each round, e.g. that workers still live)."""
    def done() -> Tally | None:
        if check is not None:
            check()
        t = tally(engine, prefix, posted)
        return t if t.analysed_once + t.duplicate_analyses >= posted else None
    return wait_until(done, timeout, what, interval=2)


# ---------------------------------------------------------------- faults

def restart_redis_empty(redis: Any) -> None:
    """kill -9 the private redis-server and start a new, empty one on the same port (its data is lost)."""
    redis.proc.send_signal(signal.SIGKILL)
    redis.proc.wait(10)
    redis.proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(redis.port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", redis.dir, "--logfile", str(Path(redis.dir) / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", redis.port), timeout=0.2):
                return True
        except OSError:
            return False
    wait_until(up, 10, "the restarted redis-server", 0.05)


class PrivatePostgres:
    """A PostgreSQL cluster of the tests' own (initdb in a temporary directory, a free port), to stop and start.

    The machine's shared cluster is never touched. As root, the server runs as
    the ``postgres`` user (PostgreSQL refuses to run as root).
    """

    def __init__(self) -> None:
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name.split(".")[0]))
        if not bindirs or not Path(bindirs[-1], "initdb").exists():
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
        self.bin = Path(bindirs[-1])
        self.dir = Path(tempfile.mkdtemp(prefix="notereader-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no `postgres` user to run a private PostgreSQL as") from None
            os.chown(self.dir, pg.pw_uid, pg.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        proc = subprocess.run([*self.prefix, str(self.bin / tool), *args], capture_output=True, text=True, cwd=self.dir)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", opts, "-w", "-t", "60", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class DownableReceiver:
    """The case system's webhook endpoint, which can be taken down (its port closed) and brought back."""

    port: int = field(default_factory=free_port)
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with owner.lock:
                    owner.received.append({"delivery": self.headers.get("X-Notereader-Delivery"),
                                           "json": json.loads(body), "at": time.time()})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
