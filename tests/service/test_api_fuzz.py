"""Schemathesis against the API's own OpenAPI document: every operation, every role, no 500s.

For each operation, Schemathesis generates requests from the schema (valid
ones and, as often, invalid ones), and each request is sent once per caller:
no token, and one fresh token of each role. Every response must not be a
server error, must have a documented status code and content type, and must
match the documented schema for its status.

Runs on SQLite and PostgreSQL, each with its own database and private Redis
(with queue names no worker listens on: nothing generated here is analysed),
so generated calls such as ``DELETE /v1/tokens/1`` cannot touch the
``service`` fixture's tokens. Derandomized and bounded (``FUZZ_EXAMPLES``
examples per operation and generation mode), so a run is reproducible; ``NOTEREADER_FUZZ_EXAMPLES=100`` runs deeper.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from svc_helpers import fresh_postgres_database

pytestmark = [pytest.mark.service, pytest.mark.slow]
FUZZ_EXAMPLES = int(os.environ.get("NOTEREADER_FUZZ_EXAMPLES", "12"))  # raise it for a deeper run by hand
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CALLERS = {  # who -> (role, teams); None: no token at all
    "anonymous": None,
    "case_system": ("case_system", []),
    "supervisor": ("supervisor", ["housing"]),
    "analyst": ("analyst", []),
    "auditor": ("auditor", []),
    "admin": ("admin", []),
}


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) in the OpenAPI document, read from an app that is never called."""
    from notereader.api.app import create_app
    from notereader.service.runtime import Runtime
    from notereader.settings import Settings

    app = create_app(Runtime(Settings(environment="test", database_url="sqlite://"), "redis://127.0.0.1:1/0"))
    return [(method.upper(), path) for path, item in sorted(app.openapi()["paths"].items()) for method in item]


OPERATIONS = _operations()


@dataclass
class FuzzApi:
    schema: Any
    new_tokens: Callable[[], dict[str, str | None]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApi]:
    from notereader.api.app import create_app
    from notereader.service.auth import create_token
    from notereader.service.redis_server import PrivateRedis
    from notereader.service.runtime import Runtime
    from notereader.settings import Settings
    from notereader.store.db import upgrade

    drop: Callable[[], None] = lambda: None  # noqa: E731
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    else:
        url, drop = fresh_postgres_database("notereader_fuzz")
    redis = PrivateRedis()
    try:
        upgrade(url)
        rt = Runtime(Settings(environment="test", database_url=url, redis_url=redis.url, token_pepper="fuzz-pepper",
                              queue_name="fuzz-analysis", webhook_queue_name="fuzz-webhooks"), redis.url)
        app = create_app(rt)

        def new_tokens() -> dict[str, str | None]:
            """One fresh token per role: a generated DELETE /v1/tokens/{id} may have revoked the last ones."""
            out: dict[str, str | None] = {}
            with rt.sessions() as s, s.begin():
                for who, spec in CALLERS.items():
                    out[who] = None if spec is None else create_token(
                        s, role=spec[0], name=f"fuzz-{who}", teams=spec[1], pepper=rt.settings.token_pepper)[1]
            return out

        yield FuzzApi(schemathesis.openapi.from_asgi("/openapi.json", app), new_tokens)
        rt.close()
    finally:
        redis.stop()
        drop()


@pytest.mark.parametrize("method,path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors_for_any_role(fuzz_api: FuzzApi, method: str, path: str) -> None:
    operation = fuzz_api.schema[path][method]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=FUZZ_EXAMPLES * 2, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def each_caller(case: Any) -> None:
        for who, token in fuzz_api.new_tokens().items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

    each_caller()


def test_every_operation_is_fuzzed() -> None:
    """The list is read from the document itself, so a new route is fuzzed without editing this file."""
    paths = {p for _m, p in OPERATIONS}
    assert {"/v1/notes", "/v1/tokens", "/v1/exports/findings", "/v1/audit"} <= paths
    assert len(OPERATIONS) >= 20
