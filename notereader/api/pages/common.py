"""What every page route shares: templates, the signed-in dependency, role checks, refusals and highlighting.

Templates autoescape everything (note text included); nothing is marked safe.
A page refused for a role is 403 and a record of another team is 404, both
audited exactly as the JSON API audits them (``notereader.api.deps`` and
``notereader.api.visibility``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from notereader.api.deps import RuntimeDep, record_refusal, refuse
from notereader.api.pages import session as page_session
from notereader.service.runtime import Runtime

HERE = Path(__file__).resolve().parent.parent
env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=env)

HOME = {"supervisor": "/pages/queue", "auditor": "/pages/audit", "analyst": "/pages/rubrics/quality"}
SEVERITY_LABEL = {"critical": "Critical", "high": "High", "medium": "Medium"}


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


env.filters["when"] = when
env.globals["SEVERITY_LABEL"] = SEVERITY_LABEL


class SignInRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageError(Exception):
    """Answered with the error page: ``status``, a title and what to do."""

    def __init__(self, status: int, title: str, message: str) -> None:
        self.status, self.title, self.message = status, title, message


def signed_in(request: Request, rt: RuntimeDep) -> page_session.PageSession:
    """The page session; read in its own short transaction, so that a refusal can be audited in another
    before the route's own transaction starts (SQLite allows one writer at a time)."""
    with rt.sessions() as session:
        ps = page_session.current(rt, session, request)
    if ps is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return ps


SignedIn = Annotated[page_session.PageSession, Depends(signed_in)]


def need_role(rt: Runtime, request: Request, ps: page_session.PageSession, *roles: str) -> None:
    """403 (audited in its own transaction) unless the session's role is one of ``roles``."""
    if ps.principal.role not in roles:
        refuse(rt, request, 403, f"the {ps.principal.role} role may not see this page; it needs one of: "
               f"{', '.join(roles)}", ps.principal)
        raise PageError(403, "Not for your role",
                        f"This page is for: {', '.join(roles)}. You are signed in as {ps.principal.role}.")


def check_csrf(rt: Runtime, request: Request, ps: page_session.PageSession, submitted: str | None) -> None:
    if not page_session.csrf_ok(ps.csrf, submitted):
        refuse(rt, request, 403, "form posted without this session's CSRF token", ps.principal)
        raise PageError(403, "Form refused", "The form was not sent from this session's page (CSRF check failed). "
                        "Reload the page and send it again.")


def render(request: Request, name: str, status: int = 200, ps: page_session.PageSession | None = None,
           **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"ps": ps, "home": HOME.get(ps.principal.role) if ps else None,
                                                      **context}, status_code=status)


def not_found_page(request: Request, what: str, key: str, ps: page_session.PageSession | None) -> HTMLResponse:
    return render(request, "error.html", 404, ps, title="Not found", message=f"There is no {what} {key!r}.")


def hidden_page(session: Session, rt: Runtime, request: Request, ps: page_session.PageSession, what: str,
                key: str) -> HTMLResponse:
    """Another team's record: audit the refusal (in the request's transaction) and answer like a missing one."""
    record_refusal(session, rt, request, 404, f"{what} belongs to another team or case system", ps.principal,
                   target=f"{what}:{key}")
    return not_found_page(request, what, key, ps)


def sign_in_redirect(next_url: str) -> RedirectResponse:
    return RedirectResponse(f"/pages/sign-in?next={quote(next_url, safe='')}", status_code=303)


def highlight(text: str, spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """``text`` cut into pieces; cited pieces carry their 1-based citation number (overlaps merged)."""
    pieces: list[dict[str, Any]] = []
    pos = 0
    for n, (start, end) in enumerate(sorted(spans), start=1):
        start = max(start, pos)
        if end <= start:
            continue
        if start > pos:
            pieces.append({"text": text[pos:start], "cite": None})
        pieces.append({"text": text[start:end], "cite": n})
        pos = end
    if pos < len(text):
        pieces.append({"text": text[pos:], "cite": None})
    return pieces
