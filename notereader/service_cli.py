"""The service's commands: serve, worker, db, tokens, audit, sweep.

    notereader db upgrade                      create or migrate the store
    notereader serve [--host H] [--port P] [--workers N]   the API (and, in development, Redis and a worker)
    notereader worker [--burst]                an RQ worker with the pipeline loaded once
    notereader tokens create --role R [--team T] [--name N] [--expires-in-days D]
    notereader audit verify                    check the audit log's hash chain
    notereader sweep                           queue every note revision that has no analysis at all
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from typing import Any

from notereader.errors import NotereaderError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("db", help="the store's schema: `db upgrade` applies the Alembic migrations",
                       description="Create or migrate the database at NOTEREADER_DATABASE_URL (default: ./notereader.db).")
    p.add_argument("db_command", choices=["upgrade", "current"], help="upgrade: apply migrations; current: print the revision")

    p = sub.add_parser("serve", help="run the HTTP API under uvicorn (OpenAPI docs at /docs)",
                       description="Run the API. With NOTEREADER_REDIS_URL unset (development only) it starts a private "
                                   "redis-server child process and one worker beside it; with a SQLite database in "
                                   "development it applies migrations first.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-worker", action="store_true", help="with a private Redis, do not start a worker beside the API")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="API processes sharing the port (default 1). Each is a full copy of the API (about 450 MiB); "
                        "more than one pays off with PostgreSQL, where writes from several processes run in parallel")

    p = sub.add_parser("worker", help="run an RQ worker: loads the pipeline once, then analyses notes and sends write-backs",
                       description="Join the Redis at NOTEREADER_REDIS_URL and work the analysis and write-back queues. "
                                   "Run as many as you like, on as many machines, against the same Redis and database.")
    p.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    p.add_argument("--name", help="worker name (default: RQ's own)")

    p = sub.add_parser("tokens", help="create API tokens (the store keeps only their hash)")
    tsub = p.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    tp = tsub.add_parser("create", help="create a token and print it on the last line")
    tp.add_argument("--role", required=True, choices=["case_system", "supervisor", "analyst", "auditor", "admin"])
    tp.add_argument("--team", action="append", default=[], help="limit the token to a team (repeatable; supervisors need one)")
    tp.add_argument("--name", help="who holds it; for case_system, the case system's name (its webhook key)")
    tp.add_argument("--expires-in-days", type=float, metavar="DAYS",
                    help="the token stops working DAYS days from now (default: it does not expire; revoke it instead)")

    p = sub.add_parser("audit", help="check the audit log")
    asub = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    asub.add_parser("verify", help="recompute the hash chain; exit 1 if any record was edited or deleted")

    sub.add_parser("sweep", help="queue every latest note revision that has no analysis (after Redis lost its data, say)")


def load_settings() -> Any:
    from pydantic import ValidationError

    from notereader.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        raise NotereaderError("invalid settings: " + " | ".join(lines),
                              hint="settings come from NOTEREADER_* environment variables; see README") from None


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def cmd_db(args: argparse.Namespace) -> int:
    from notereader.store.db import current_revision, make_engine, upgrade

    s = load_settings()
    if args.db_command == "upgrade":
        upgrade(s.database_url)
    rev = current_revision(make_engine(s.database_url))
    print(f"database schema at revision {rev}")
    return 0


def _runtime(settings: Any, redis_url: str) -> Any:
    from notereader.service.runtime import Runtime
    from notereader.store.db import check_schema

    rt = Runtime(settings, redis_url)
    check_schema(rt.engine)
    return rt


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from notereader.api.app import create_app
    from notereader.service.redis_server import PrivateRedis
    from notereader.store.db import upgrade

    if args.workers < 1:
        raise NotereaderError(f"--workers {args.workers}: give at least 1 API process")
    _logging()
    s = load_settings()
    log = logging.getLogger("notereader.serve")
    if s.is_development and s.database_url.startswith("sqlite"):
        upgrade(s.database_url)
    private = worker = None
    redis_url = s.redis_url
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so
    # the children below (private redis-server, worker) are always stopped with us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if redis_url is None:
            private = PrivateRedis()
            redis_url = private.url
            log.info("started a private redis-server at %s (development; set NOTEREADER_REDIS_URL to use your own)", redis_url)
            if not args.no_worker:
                env = dict(os.environ, NOTEREADER_REDIS_URL=redis_url)
                worker = subprocess.Popen([sys.executable, "-m", "notereader", "worker"], env=env)  # nosec B603 # fixed argv (this interpreter, notereader worker), no shell
                log.info("started a worker beside the API (pid %d)", worker.pid)
        if args.workers > 1:
            _runtime(s, redis_url).close()  # refuse a wrong schema here, once, before any process starts
            os.environ["NOTEREADER_REDIS_URL"] = redis_url  # the API processes join the same Redis
            uvicorn.run("notereader.api.app:app_from_environment", factory=True, workers=args.workers,
                        host=args.host, port=args.port, log_config=None, access_log=True)
        else:
            rt = _runtime(s, redis_url)
            uvicorn.run(create_app(rt), host=args.host, port=args.port, log_config=None, access_log=True)
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        if private is not None:
            private.stop()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from notereader.service.redis_server import resolve_redis_url
    from notereader.service.worker import run_worker

    _logging()
    s = load_settings()
    rt = _runtime(s, resolve_redis_url(s, start=False))
    run_worker(rt, burst=args.burst, name=args.name)
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from notereader.service import audit
    from notereader.service.auth import create_token
    from notereader.store.db import check_schema, make_engine, make_sessionmaker

    s = load_settings()
    unknown = sorted(set(args.team) - set(s.teams))
    if unknown:
        raise NotereaderError(f"--team {', '.join(unknown)}: not a known team ({', '.join(s.teams)})",
                              hint="teams come from NOTEREADER_TEAMS")
    engine = make_engine(s.database_url)
    check_schema(engine)
    name = args.name or args.role
    with make_sessionmaker(engine)() as session, session.begin():
        try:
            row, token = create_token(session, role=args.role, name=name, teams=args.team, pepper=s.token_pepper,
                                      expires_in_days=args.expires_in_days)
        except ValueError as exc:
            raise NotereaderError(str(exc)) from None
        audit.append(session, actor="cli", role="admin", action="token.create", target=f"token:{row.id}",
                     detail={"role": row.role, "name": row.name, "teams": row.teams,
                             "expires_at": row.expires_at.isoformat() if row.expires_at else None})
    expiry = f"expires {row.expires_at.isoformat(timespec='seconds')}" if row.expires_at else "does not expire"
    print(f"token {row.id}: role {row.role}, name {row.name}, teams {', '.join(row.teams) or '(all)'}, {expiry}; "
          "shown once:", file=sys.stderr)
    print(token)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from notereader.service import audit
    from notereader.store.db import check_schema, make_engine, make_sessionmaker

    s = load_settings()
    engine = make_engine(s.database_url)
    check_schema(engine)
    with make_sessionmaker(engine)() as session:
        checked, problems = audit.verify(session)
    for p in problems:
        print(p)
    print(f"audit log: {checked} record(s) checked, " + ("intact" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from notereader.service.redis_server import resolve_redis_url

    s = load_settings()
    rt = _runtime(s, resolve_redis_url(s, start=False))
    with rt.sessions() as session:
        n = rt.sweep(session, rt.ruleset.sha256)
    print(f"queued {n} note revision(s)")
    return 0


COMMANDS = {"db": cmd_db, "serve": cmd_serve, "worker": cmd_worker, "tokens": cmd_tokens, "audit": cmd_audit,
            "sweep": cmd_sweep}
