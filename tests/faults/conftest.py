"""Fixtures for the fault scenarios: real processes only.

Each scenario gets a ``Stack`` (notereader/bench/stack.py): a private
redis-server, a fresh migrated database (a SQLite file, or a new database on
this session's private PostgreSQL cluster), the API under uvicorn when asked,
and ``notereader worker`` subprocesses. The PostgreSQL cluster is the tests'
own (initdb in a temporary directory), so stopping it disturbs nobody.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from faults_helpers import PrivatePostgres

from notereader.bench.stack import Stack


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    try:
        pg = PrivatePostgres()
    except RuntimeError as exc:
        pytest.fail(f"could not start a private PostgreSQL for the fault tests: {exc}")
    yield pg
    pg.destroy()


def _robust_drop(drop: Callable[[], None], server: str, name: str) -> Callable[[], None]:
    """The Stack's drop, or, when its admin connection died with a stopped server, the same on a new connection."""
    def robust() -> None:
        try:
            drop()
        except Exception:
            import psycopg

            with psycopg.connect(server, autocommit=True, connect_timeout=10) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return robust


@pytest.fixture
def make_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Stack]]:
    """``make_stack(backend, **settings)``: a Stack on "sqlite" or "postgresql" (the private cluster)."""
    stacks: list[Stack] = []

    def make(backend: str, **settings: Any) -> Stack:
        server = None
        if backend == "postgresql":
            server = request.getfixturevalue("private_postgres").url
        st = Stack(tmp_path / f"{backend}-{len(stacks)}", server, extra_settings={"sweep_interval_seconds": 2, **settings})
        if server is not None:
            st._drop = _robust_drop(st._drop, server, st.database_url.rsplit("/", 1)[1])
        stacks.append(st)
        return st

    yield make
    for st in stacks:
        st.close()
