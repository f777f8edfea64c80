"""The per-process cache of accepted tokens: what it keeps, for how long, and when it asks the database again."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from notereader.service.auth import TokenRefused
from notereader.service.token_cache import PrincipalCache, note_revocation, read_generation
from notereader.store.models import ApiToken
from notereader.store.types import utcnow

pytestmark = pytest.mark.service


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cache(service, seconds: float = 30.0, **kw) -> tuple[PrincipalCache, Clock]:
    clock = Clock()
    rt = service.runtime
    return PrincipalCache(rt.reads, rt.settings.token_pepper, seconds, clock=clock, **kw), clock


def _revoke_in_db(service, name: str) -> None:
    with service.runtime.sessions() as s, s.begin():
        s.execute(update(ApiToken).where(ApiToken.name == name).values(revoked_at=utcnow()))


def test_an_accepted_token_is_served_from_the_cache_until_its_lifetime_ends(service):
    cache, clock = _cache(service, seconds=30)
    token = service.token("auditor", "tc-life")
    assert cache.cached(token, 7) is None
    principal = cache.lookup(token, 7)
    assert principal.name == "tc-life" and cache.cached(token, 7) == principal
    _revoke_in_db(service, "tc-life")  # bypasses the API: nothing is announced
    clock.now += 29
    assert cache.cached(token, 7) == principal
    clock.now += 2
    assert cache.cached(token, 7) is None
    with pytest.raises(TokenRefused, match="revoked"):
        cache.lookup(token, 7)


def test_a_new_revocation_count_or_no_count_means_the_database_is_asked(service):
    cache, _clock = _cache(service)
    token = service.token("auditor", "tc-gen")
    cache.lookup(token, 3)
    assert cache.cached(token, 4) is None  # a revocation happened since: this entry is gone
    assert cache.cached(token, 3) is None
    cache.lookup(token, 4)
    assert cache.cached(token, None) is None  # Redis could not be read


def test_unknown_and_refused_tokens_are_never_kept(service):
    cache, _clock = _cache(service)
    with pytest.raises(TokenRefused, match="unknown"):
        cache.lookup("nr_not-a-real-token", 1)
    assert cache.cached("nr_not-a-real-token", 1) is None
    token = service.token("auditor", "tc-refused")
    _revoke_in_db(service, "tc-refused")
    with pytest.raises(TokenRefused):
        cache.lookup(token, 1)
    assert cache.cached(token, 1) is None and not cache._entries


def test_a_zero_lifetime_turns_the_cache_off(service):
    cache, _clock = _cache(service, seconds=0)
    token = service.token("auditor", "tc-off")
    cache.lookup(token, 1)
    assert cache.cached(token, 1) is None and not cache._entries


def test_the_cache_holds_at_most_its_size_dropping_the_least_recently_used(service):
    cache, _clock = _cache(service, max_entries=2)
    a, b, c = (service.token("auditor", f"tc-lru-{i}") for i in range(3))
    cache.lookup(a, 1)
    cache.lookup(b, 1)
    assert cache.cached(a, 1) is not None  # a is now the most recently used
    cache.lookup(c, 1)
    assert cache.cached(b, 1) is None and cache.cached(a, 1) is not None and cache.cached(c, 1) is not None


def test_a_revocation_moves_the_shared_counter(service):
    redis = service.runtime.redis
    before = read_generation(redis)
    note_revocation(redis)
    assert read_generation(redis) == before + 1
