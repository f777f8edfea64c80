"""Engines, sessions and schema upgrades for the store.

SQLite gets foreign keys, WAL and ``BEGIN IMMEDIATE`` transactions, so the
API and any number of worker processes on one machine can share the file
without lost updates. PostgreSQL needs nothing special.

SQLite allows one writer at a time. Threads of one process that wait for it
inside SQLite's busy handler sleep in steps of up to 100 ms, so under
concurrent posts most of the time went to sleeping, not writing. Writers of
one process therefore queue on a process-wide lock first (released when the
connection goes back to the pool, i.e. after COMMIT or ROLLBACK) and only
other processes meet the busy handler. Sessions from ``read_only()`` begin a
deferred transaction: in WAL mode they read a consistent snapshot without
taking the write lock at all.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

from notereader.errors import NotereaderError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
READ_ONLY = "notereader_read_only"  # execution option: a transaction that never writes
SQLITE_LOCK_TIMEOUT = 30.0  # seconds, as the busy timeout


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # let the events below manage transactions
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        writer = threading.Lock()  # this process's writers queue here, not in SQLite's sleeping busy handler

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
                return
            info = conn.connection.info  # the pooled connection's: it outlives the checkout
            if not info.get("holds_writer"):
                if not writer.acquire(timeout=SQLITE_LOCK_TIMEOUT):
                    raise sqlite3.OperationalError("database is locked (another thread of this process kept writing "
                                                   f"for over {SQLITE_LOCK_TIMEOUT:.0f} s)")
                info["holds_writer"] = True
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                info.pop("holds_writer", None)
                writer.release()
                raise

        @event.listens_for(engine, "checkin")
        def _release_writer(_dbapi_conn, record):  # type: ignore[no-untyped-def]
            if record.info.pop("holds_writer", None):
                writer.release()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_only(engine: Engine) -> sessionmaker[Session]:
    """Sessions for work that only reads (SQLite: a deferred transaction that never takes the write lock)."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed together or not at all."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None  # nosec B101 # the migrations directory ships with the package and always has a head
    return head


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is not at the code's migration head."""
    have, want = current_revision(engine), head_revision()
    if have != want:
        where = "an empty database" if not inspect(engine).get_table_names() else f"schema revision {have}"
        raise NotereaderError(
            f"the database at {engine.url.render_as_string(hide_password=True)} is {where}, not {want}",
            hint="run `notereader db upgrade` first (the same NOTEREADER_DATABASE_URL)")
