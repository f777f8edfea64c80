"""Server-rendered pages for supervisors, auditors and analysts, served by the API's own app under /pages.

``mount_pages(app)`` adds the page routes, their static files (CSS and one
small script, served from the package: no CDN), the page security headers
and the HTML error pages. Reading works without JavaScript; the script only
refreshes the risk queue in place.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from notereader.api.pages import analyst_views, auditor_views, auth_views, supervisor_views
from notereader.api.pages.common import HERE, PageError, SignInRequired, render, sign_in_redirect
from notereader.api.pages.headers import PageSecurityHeaders


async def _sign_in_required(_request: Request, exc: SignInRequired) -> Response:
    return sign_in_redirect(exc.next_url)


async def _page_error(request: Request, exc: PageError) -> HTMLResponse:
    return render(request, "error.html", exc.status, None, title=exc.title, message=exc.message)


def mount_pages(app: FastAPI) -> None:
    for r in (auth_views.router, supervisor_views.router, auditor_views.router, analyst_views.router):
        app.include_router(r)
    app.mount("/pages/static", StaticFiles(directory=HERE / "static"), name="pages-static")
    app.add_exception_handler(SignInRequired, _sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(PageError, _page_error)  # type: ignore[arg-type]
    app.add_middleware(PageSecurityHeaders)
