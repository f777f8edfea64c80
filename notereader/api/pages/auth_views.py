"""Sign-in with an API token, sign-out, and each role's home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from notereader.api.deps import RuntimeDep, SessionDep, refuse
from notereader.api.pages import session as page_session
from notereader.api.pages.common import HOME, PageError, SignedIn, check_csrf, render
from notereader.service import audit
from notereader.service.auth import TokenRefused, authenticate

router = APIRouter(prefix="/pages", include_in_schema=False)


def _safe_next(next_url: str | None) -> str | None:
    """Only a path on this site's pages (no scheme, no host): an open redirect would phish."""
    if next_url and next_url.startswith("/pages/") and not next_url.startswith("//") and "\\" not in next_url:
        return next_url
    return None


@router.get("", response_class=HTMLResponse)
def home(request: Request, rt: RuntimeDep) -> Response:
    with rt.sessions() as session:
        ps = page_session.current(rt, session, request)
    if ps is None:
        return RedirectResponse("/pages/sign-in", status_code=303)
    target = HOME.get(ps.principal.role)
    if target is None:
        return render(request, "error.html", 200, ps, title="No pages for this role",
                      message=f"The {ps.principal.role} role works through the API (see /docs) and the command line.")
    return RedirectResponse(target, status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, rt: RuntimeDep, next: str | None = None) -> Response:  # noqa: A002
    csrf, fresh = page_session.signin_csrf(rt, request)
    page = render(request, "sign_in.html", csrf_value=csrf, next=_safe_next(next) or "", error=None)
    if fresh:
        page_session.set_signin_csrf(rt, page, csrf)
    return page


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, rt: RuntimeDep, token: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "",  # nosec B107 # empty form fields, not a password
            next: Annotated[str, Form()] = "") -> Response:  # noqa: A002
    if not page_session.signin_csrf_ok(rt, request, csrf):
        raise PageError(403, "Form refused", "The sign-in form had expired or was not sent from this site. "
                        "Open the sign-in page again.")
    principal = None
    reason = "That token is unknown or revoked. Paste the whole token, starting with nr_."
    with rt.sessions() as session:
        try:
            principal = authenticate(session, token.strip(), rt.settings.token_pepper) if token.strip() else None
        except TokenRefused as exc:
            reason = f"That token is unknown or revoked, or has expired ({exc}). Paste the whole token, starting with nr_."
    if principal is None:
        refuse(rt, request, 401, "page sign-in with an unknown, revoked or expired token", None)
        return render(request, "sign_in.html", 401, csrf_value=csrf, next=_safe_next(next) or "", error=reason)
    with rt.sessions() as session, session.begin():
        audit.append(session, actor=principal.actor, role=principal.role, action="pages.sign_in", target=None)
    response = RedirectResponse(_safe_next(next) or HOME.get(principal.role, "/pages"), status_code=303)
    page_session.start(rt, response, principal.token_id)
    return response


@router.post("/sign-out")
def sign_out(request: Request, rt: RuntimeDep, ps: SignedIn, session: SessionDep,
             csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(rt, request, ps, csrf)
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="pages.sign_out", target=None)
    response = RedirectResponse("/pages/sign-in", status_code=303)
    page_session.end(response)
    return response
