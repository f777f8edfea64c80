"""The analyst's pages: what an edited rubric set would change on stored notes, and rubric quality.

Rubric impact runs on a worker as an RQ job (``notereader.service.whatif``):
the worker has the model loaded, a never-compiled rubric set takes ~90 s to
compile, and the job checks at most ``IMPACT_SAMPLE`` of the newest notes. The
page says so and refreshes itself until the job is done. Nothing is published:
the active rubric set is untouched.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from notereader.api.deps import RuntimeDep, SessionDep
from notereader.api.pages.common import PageError, SignedIn, check_csrf, need_role, render
from notereader.api.pages.session import PageSession
from notereader.service import audit
from notereader.service.quality import rubric_quality
from notereader.service.whatif import IMPACT_SAMPLE, candidate_problems, enqueue_impact, job_state, write_candidate
from notereader.store.models import NoteRevision

router = APIRouter(prefix="/pages/rubrics", include_in_schema=False)
FILE_NAME = re.compile(r"[A-Za-z0-9_.-]+\.ya?ml")
MAX_FILES = 50


def _impact_form(request: Request, ps: PageSession, status: int = 200, problems: list[str] | None = None,
                 directory: str = "") -> Response:
    return render(request, "impact.html", status, ps, problems=problems or [], directory=directory, job=None,
                  sample=IMPACT_SAMPLE)


@router.get("/impact", response_class=HTMLResponse)
def impact_form(request: Request, ps: SignedIn, rt: RuntimeDep) -> Response:
    need_role(rt, request, ps, "analyst")
    return _impact_form(request, ps)


def _uploaded(files: list[UploadFile]) -> tuple[dict[str, str], list[str]]:
    texts: dict[str, str] = {}
    problems: list[str] = []
    for f in files:
        if not f.filename:
            continue
        name = Path(f.filename).name
        if not FILE_NAME.fullmatch(name):
            problems.append(f"{f.filename}: a rubric file is named like housing_loss.yaml (letters, digits, _ . -)")
            continue
        raw = f.file.read()
        try:
            texts[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"{name}: is not UTF-8 text")
    if len(texts) > MAX_FILES:
        problems.append(f"{len(texts)} files sent; send at most {MAX_FILES} (or name a directory on the server)")
    return texts, problems


@router.post("/impact", response_class=HTMLResponse)
def impact_start(request: Request, ps: SignedIn, rt: RuntimeDep,
                 files: Annotated[list[UploadFile], File()] = [],  # noqa: B006
                 directory: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Check the edited rubrics at once, then queue the impact check (sync: FastAPI runs it in a thread)."""
    need_role(rt, request, ps, "analyst")
    check_csrf(rt, request, ps, csrf)
    texts, problems = _uploaded(files)
    directory = directory.strip()
    if problems:
        return _impact_form(request, ps, 422, problems, directory)
    if bool(texts) == bool(directory):
        return _impact_form(request, ps, 422, ["Choose edited rubric files to upload, or name a directory on the "
                                               "server, not both and not neither."], directory)
    if texts:
        with tempfile.TemporaryDirectory(prefix="notereader-impact-") as tmp:
            write_candidate(rt.ruleset.directory, texts, Path(tmp))
            candidate, problems = candidate_problems(Path(tmp))
        problems = [p.replace(tmp + "/", "") for p in problems]
    else:
        candidate, problems = candidate_problems(Path(directory))
    if problems:
        return _impact_form(request, ps, 422, problems, directory)
    if candidate.sha256 == rt.ruleset.sha256:
        return _impact_form(request, ps, 422, ["These rubrics are the active ones: nothing would change."], directory)
    job_id = enqueue_impact(rt, texts or None, directory or None, list(ps.principal.teams))
    with rt.sessions() as session, session.begin():
        audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="rubric_impact.start",
                     target=f"job:{job_id}", detail={"files": sorted(texts), "directory": directory or None,
                                                     "candidate_ruleset_sha256": candidate.sha256})
    return RedirectResponse(f"/pages/rubrics/impact/{job_id}", status_code=303)


@router.get("/impact/{job_id}", response_class=HTMLResponse)
def impact_result(job_id: str, request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep) -> Response:
    need_role(rt, request, ps, "analyst")
    if not re.fullmatch(r"impact-[0-9a-f]{16}", job_id):
        raise PageError(404, "Not found", f"There is no rubric impact check {job_id!r}.")
    state, result = job_state(rt, job_id)
    if state == "missing":
        raise PageError(404, "Not found", f"There is no rubric impact check {job_id!r} (results are kept for a day).")
    if state == "finished":
        texts = {r.id: r.text for r in session.scalars(select(NoteRevision).where(NoteRevision.id.in_(
            {x["revision_id"] for x in result["gained"] + result["lost"]})))}
        for item in result["gained"] + result["lost"]:
            text = texts.get(item["revision_id"], "")
            item["sentences"] = [text[c["start"]:c["end"]] for c in item["citations"]]
        audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="rubric_impact.read",
                     target=f"job:{job_id}", detail={"notes": sorted({x["note_id"] for x in result["gained"] + result["lost"]})})
    titles = {r.id: r.title for r in rt.ruleset.rubrics}
    return render(request, "impact.html", 200, ps, problems=[], directory="", job={"id": job_id, "state": state,
                                                                                   "result": result},
                  titles=titles, sample=IMPACT_SAMPLE)


@router.get("/quality", response_class=HTMLResponse)
def quality_page(request: Request, ps: SignedIn, rt: RuntimeDep, session: SessionDep) -> Response:
    need_role(rt, request, ps, "analyst")
    titles = {r.id: r.title for r in rt.ruleset.rubrics}
    report = rubric_quality(session, titles)
    audit.append(session, actor=ps.principal.actor, role=ps.principal.role, action="rubric_quality.read", target=None,
                 detail={"rubrics": len(report["rubrics"]), "page": True})
    return render(request, "quality.html", 200, ps, report=report)
