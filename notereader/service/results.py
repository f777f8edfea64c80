"""Writing one analysis to the store: the analysis, its findings, flags and write-back.

All of it happens in one transaction, so a worker that dies midway leaves
nothing behind, and the unique (revision, ruleset, model) key means that a
second worker finishing the same job writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from notereader.analysis import canonical_json
from notereader.rubrics.schema import RubricSet
from notereader.store.models import Analysis, Finding, Flag, FlagReview, Note, NoteRevision, RubricVersion, WebhookDelivery
from notereader.store.types import utcnow

SEVERITY_RANK = {"critical": 3, "high": 2, "medium": 1}
CLOSED_BY_SYSTEM = "withdrawn"


def record_rubric_versions(factory: sessionmaker[Session], ruleset: RubricSet) -> dict[str, int]:
    """Store the text of every rubric of ``ruleset`` (once); rubric id -> rubric_versions.id."""
    for _attempt in range(3):
        try:
            with factory() as session, session.begin():
                ids: dict[str, int] = {}
                for r in ruleset.rubrics:
                    row = session.scalar(select(RubricVersion).where(RubricVersion.rubric_id == r.id,
                                                                     RubricVersion.content_sha256 == r.sha256))
                    if row is None:
                        row = RubricVersion(rubric_id=r.id, version=r.version, content_sha256=r.sha256, text=r.text,
                                            created_at=utcnow())
                        session.add(row)
                        session.flush()
                    ids[r.id] = row.id
                return ids
        except IntegrityError:  # another worker stored the same rubric text at the same moment
            continue
    raise RuntimeError("could not record rubric versions after 3 attempts")


def find_analysis(session: Session, revision_id: int, ruleset_sha: str, model_sha: str) -> Analysis | None:
    return session.scalar(select(Analysis).where(Analysis.revision_id == revision_id,
                                                 Analysis.ruleset_sha256 == ruleset_sha,
                                                 Analysis.model_sha256 == model_sha))


@dataclass(frozen=True)
class Written:
    analysis_id: int
    created: bool
    delivery_id: int | None


def _update_flags(session: Session, note: Note, revision: NoteRevision, risk_findings: list[Finding]) -> None:
    now = utcnow()
    flags = {f.rubric_id: f for f in session.scalars(select(Flag).where(Flag.note_id == note.note_id))}
    raised = set()
    for finding in risk_findings:
        assert finding.rubric_id is not None and finding.severity is not None  # nosec B101 # type narrowing; risk findings always carry rubric and severity
        raised.add(finding.rubric_id)
        flag = flags.get(finding.rubric_id)
        if flag is None:
            session.add(Flag(note_id=note.note_id, client_id=note.client_id, team=note.team, rubric_id=finding.rubric_id,
                             severity=finding.severity, severity_rank=SEVERITY_RANK[finding.severity],
                             finding_id=finding.id, status="open", written_at=revision.written_at,
                             created_at=now, updated_at=now))
            continue
        flag.finding_id, flag.severity = finding.id, finding.severity
        flag.severity_rank, flag.written_at, flag.updated_at = SEVERITY_RANK[finding.severity], revision.written_at, now
        if flag.status == CLOSED_BY_SYSTEM:
            session.add(FlagReview(flag_id=flag.id, action="reopen", reason="raised again by a newer analysis",
                                   actor="system", from_status=flag.status, to_status="open", at=now))
            flag.status = "open"
    for rubric_id, flag in flags.items():
        if rubric_id not in raised and flag.status == "open":
            session.add(FlagReview(flag_id=flag.id, action="withdraw",
                                   reason="the newest analysis of this note no longer raises this risk",
                                   actor="system", from_status="open", to_status=CLOSED_BY_SYSTEM, at=now))
            flag.status, flag.updated_at = CLOSED_BY_SYSTEM, now


def write_analysis(factory: sessionmaker[Session], revision_id: int, analysis: dict[str, Any], seconds: float,
                   rubric_version_ids: dict[str, int], webhook_url: str | None) -> Written:
    """Store ``analysis`` for ``revision_id`` unless one exists for the same ruleset and model."""
    prov = analysis["provenance"]
    ruleset_sha = prov["ruleset"]["sha256"]
    (model_sha,) = prov["models"].values()
    severities = {r["rubric_id"]: r["severity"] for r in analysis["risks"]}
    try:
        with factory() as session, session.begin():
            existing = find_analysis(session, revision_id, ruleset_sha, model_sha)
            if existing is not None:
                return Written(existing.id, False, None)
            revision = session.get(NoteRevision, revision_id)
            if revision is None:
                raise LookupError(f"note revision {revision_id} is not in the store")
            note = revision.note
            row = Analysis(revision_id=revision_id, ruleset_sha256=ruleset_sha, model_sha256=model_sha,
                           engine_version=prov["engine_version"], fingerprint=analysis["fingerprint"],
                           body=canonical_json(analysis), seconds=round(seconds, 6), created_at=utcnow())
            session.add(row)
            session.flush()
            risk_findings = []
            for kind, items in (("risk", analysis["risks"]), ("theme", analysis["themes"])):
                for item in items:
                    f = Finding(analysis_id=row.id, kind=kind, rubric_id=item["rubric_id"],
                                rubric_version_id=rubric_version_ids[item["rubric_id"]],
                                severity=severities.get(item["rubric_id"]) if kind == "risk" else None,
                                score=item["score"], citations=item["citations"])
                    session.add(f)
                    if kind == "risk":
                        risk_findings.append(f)
            for g in analysis["goals"]:
                session.add(Finding(analysis_id=row.id, kind="goal", goal_id=g["goal_id"], direction=g["direction"],
                                    score=g["score"], citations=g["citations"]))
            session.flush()
            latest = max(r.revision for r in note.revisions)
            if revision.revision == latest:
                _update_flags(session, note, revision, risk_findings)
            delivery_id = None
            if webhook_url:
                d = WebhookDelivery(analysis_id=row.id, note_id=note.note_id, source=note.source, url=webhook_url,
                                    status="pending", attempts=0, created_at=utcnow())
                session.add(d)
                session.flush()
                delivery_id = d.id
            return Written(row.id, True, delivery_id)
    except IntegrityError:
        with factory() as session:
            existing = find_analysis(session, revision_id, ruleset_sha, model_sha)
            if existing is None:
                raise
            return Written(existing.id, False, None)
