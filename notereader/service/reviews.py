"""Reviewing a flag (acknowledge, escalate, dismiss, resolve): shared by the API and the flag page.

Every review is kept in the flag's history and written to the audit log in
the caller's transaction. A closed flag (dismissed or resolved) is not
reviewed again.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from notereader.service import audit
from notereader.service.auth import Principal
from notereader.store.models import Flag, FlagReview
from notereader.store.types import utcnow

TRANSITIONS = {"acknowledge": "acknowledged", "escalate": "escalated", "dismiss": "dismissed", "resolve": "resolved"}
CLOSED = frozenset({"dismissed", "resolved"})


class FlagClosed(Exception):
    """The flag is dismissed or resolved already."""

    def __init__(self, flag: Flag) -> None:
        super().__init__(f"flag {flag.id} is {flag.status}; a closed flag is not reviewed again")


def review_flag(session: Session, flag: Flag, action: str, reason: str | None, principal: Principal) -> None:
    """Apply ``action`` to ``flag`` (locked by the caller) and record it; raises FlagClosed."""
    if flag.status in CLOSED:
        raise FlagClosed(flag)
    now = utcnow()
    to_status = TRANSITIONS[action]
    session.add(FlagReview(flag_id=flag.id, action=action, reason=reason, actor=principal.actor,
                           from_status=flag.status, to_status=to_status, at=now))
    audit.append(session, actor=principal.actor, role=principal.role, action="flag.review", target=f"flag:{flag.id}",
                 detail={"action": action, "from": flag.status, "to": to_status})
    flag.status, flag.updated_at = to_status, now
    session.flush()
    session.refresh(flag)
