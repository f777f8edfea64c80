"""Principals of recently used API tokens, kept per API process so a call need not read the token table.

Why: every API call looked its token up in the database. Under ingest load
that lookup (a transaction, an ORM query) was about a ninth of the API's CPU
per POST, for an answer that almost never changes.

What keeps it safe:

- Only tokens that were *accepted* are kept (by their HMAC digest, never in
  clear). An unknown, revoked or expired token always goes to the database,
  so a client guessing tokens cannot fill the cache.
- **Revocation is seen at once by every API process.** Revoking a token
  increments a counter in Redis after the revocation commits
  (``note_revocation``); each call reads that counter (one round trip, in the
  rate limiter's pipeline when the limit is on) and an entry cached under an
  older counter value is looked up again. If Redis cannot be read, nothing
  is served from the cache.
- An expiry is checked against the clock on every call, from the cached row's
  ``expires_at``, exactly as the database lookup would.
- An entry is used for at most ``NOTEREADER_TOKEN_CACHE_SECONDS`` (default
  30 s) whatever the counter says: a token revoked by editing the database
  directly, bypassing the API, is refused within that time.
  ``NOTEREADER_TOKEN_CACHE_SECONDS=0`` turns the cache off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session, sessionmaker

from notereader.service.auth import Principal, authenticate_row, hash_token
from notereader.store.types import utcnow

log = logging.getLogger("notereader.auth")
GENERATION_KEY = "notereader:tokens:revocations"
MAX_ENTRIES = 4096


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    expires_at: datetime | None
    generation: int
    cached_at: float  # time.monotonic()


def read_generation(redis: Redis) -> int | None:
    """The revocation counter, or None when Redis cannot be read (then the cache is not used)."""
    try:
        raw = redis.get(GENERATION_KEY)
    except RedisError as exc:
        log.warning("token cache not used: Redis unavailable (%s)", type(exc).__name__)
        return None
    return int(raw or 0)


def note_revocation(redis: Redis) -> None:
    """Tell every API process's cache that a token was revoked (call after the revocation committed).

    If Redis is down the cached entries still end within the cache's lifetime, and while Redis is down
    no call is served from a cache anyway.
    """
    try:
        redis.incr(GENERATION_KEY)
    except RedisError as exc:
        log.warning("token revocation not announced to other API processes: Redis unavailable (%s); "
                    "their cached entries end within NOTEREADER_TOKEN_CACHE_SECONDS", type(exc).__name__)


class PrincipalCache:
    """Accepted tokens' principals by digest, valid while the revocation counter and the lifetime allow."""

    def __init__(self, reads: sessionmaker[Session], pepper: str, seconds: float,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES) -> None:
        self.reads = reads
        self.pepper = pepper
        self.seconds = seconds
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, token: str, generation: int | None, now: datetime | None = None) -> Principal | None:
        """The principal if this token was accepted recently under ``generation`` and has not expired since."""
        if generation is None or self.seconds <= 0:
            return None
        digest = hash_token(token, self.pepper)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if (entry.generation != generation or self.clock() - entry.cached_at > self.seconds
                    or (entry.expires_at is not None and entry.expires_at <= (now or utcnow()))):
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry.principal

    def lookup(self, token: str, generation: int | None, now: datetime | None = None) -> Principal:
        """Look the token up in the database (raises ``TokenRefused``) and keep it if it was accepted.

        ``generation`` must have been read *before* this lookup: a revocation committed after the read
        moves the counter on, so the entry is not used again.
        """
        with self.reads() as session:
            principal, expires_at = authenticate_row(session, token, self.pepper, now)
        if generation is not None and self.seconds > 0:
            with self._lock:
                self._entries[hash_token(token, self.pepper)] = _Entry(principal, expires_at, generation, self.clock())
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return principal
