"""Per-token request rate limit, counted in Redis so every API process shares one count.

A fixed one-minute window per token: ``INCR notereader:ratelimit:<token id>:<minute>``
with a short expiry. A call beyond ``NOTEREADER_RATE_LIMIT_PER_MINUTE`` in
the current minute is refused with 429 and ``Retry-After`` set to the
seconds left in the window. If Redis cannot be reached the call is let
through (and logged): refusing every call because the counter is down would
stop notes from being stored, which is worse than an unmetered minute.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger("notereader.ratelimit")
WINDOW_SECONDS = 60
KEY = "notereader:ratelimit:{token_id}:{window}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int


def check(redis: Redis, token_id: int, limit: int, now: float | None = None) -> Verdict:
    """Count one call by ``token_id``; ``limit`` <= 0 turns the limit off."""
    if limit <= 0:
        return Verdict(True, 0, 0)
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = KEY.format(token_id=token_id, window=window)
    try:
        with redis.pipeline() as p:
            p.incr(key)
            p.expire(key, WINDOW_SECONDS * 2)
            count = int(p.execute()[0])
    except RedisError as exc:
        log.warning("rate limit not applied: Redis unavailable (%s)", type(exc).__name__)
        return Verdict(True, 0, 0)
    retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
    return Verdict(count <= limit, count, retry_after)
