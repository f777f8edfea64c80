"""The demo job: the bundled sample notes through the real store, on built-in defaults.

Each sample note is stored as a case system would post it (source ``demo``),
analysed with the same code a worker runs, and written to the database at
NOTEREADER_DATABASE_URL (``./notereader.db`` by default); then the risk queue
is printed. Running it again changes nothing: the notes and analyses are
already stored.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import select

from notereader.notes import Note
from notereader.reader import Reader
from notereader.service import audit
from notereader.service.ingest import store_note
from notereader.service.results import record_rubric_versions, write_analysis
from notereader.settings import Settings
from notereader.store.db import make_engine, make_sessionmaker, upgrade
from notereader.store.models import Analysis, Flag

PROGRAM_TEAMS = {
    "rapid_rehousing": "housing", "permanent_supportive_housing": "housing", "benefits_navigation": "housing",
    "dv_shelter_advocacy": "family", "home_visiting": "family", "peer_recovery_coaching": "recovery",
    "reentry": "reentry", "adult_protective_services": "adult-protective",
}
SOURCE = "demo"


def _written_at(raw: str | None) -> datetime:
    if not raw:
        return datetime(2026, 1, 1, tzinfo=timezone.utc)
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def run_demo(records: list[dict[str, Any]], reader: Reader, settings: Settings) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Store and analyse each record; yield (record, analysis) in input order."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    rubric_ids = record_rubric_versions(sessions, reader.ruleset)
    for rec in records:
        team = PROGRAM_TEAMS.get(rec.get("program", ""), settings.teams[0])
        goals = (rec.get("plan") or {}).get("goals") or []
        with sessions() as s, s.begin():
            stored = store_note(s, {"note_id": rec["note_id"], "client_id": rec.get("client_id") or f"client-{rec['note_id']}",
                                    "team": team, "written_at": _written_at(rec.get("written_at")), "text": rec["text"],
                                    "author_id": rec.get("author_role"), "plan": {"goals": goals} if goals else None}, SOURCE)
            revision_id = stored.revision.id
            if stored.created:  # as POST /v1/notes does: every stored note is in the audit chain
                audit.append(s, actor=f"cli:{SOURCE}", role=None, action="note.received",
                             target=f"note:{rec['note_id']}",
                             detail={"revision": stored.revision.revision, "text_sha256": stored.revision.text_sha256,
                                     "team": team})
            plan_goals = tuple((g["goal_id"], g["text"]) for g in (stored.revision.plan.goals if stored.revision.plan else []))
        started = time.perf_counter()
        analysis = reader.analyze(Note(rec["note_id"], rec["text"], plan_goals))
        write_analysis(sessions, revision_id, analysis, time.perf_counter() - started, rubric_ids, None)
        yield rec, analysis
    engine.dispose()


def risk_queue_lines(settings: Settings, note_ids: list[str], titles: dict[str, str]) -> list[str]:
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as s:
        flags = s.scalars(select(Flag).where(Flag.note_id.in_(note_ids), Flag.status == "open")
                          .order_by(Flag.severity_rank.desc(), Flag.written_at.desc(), Flag.id)).all()
        lines = []
        for f in flags:
            quote = f.finding.citations[0]["quote"] if f.finding.citations else ""
            quote = quote if len(quote) <= 90 else quote[:87] + "..."
            lines.append(f"  {f.severity:8s} {f.team:16s} {f.note_id:12s} {titles.get(f.rubric_id, f.rubric_id)}: \"{quote}\"")
        analyses = len(s.scalars(select(Analysis.id)).all())
    engine.dispose()
    return lines + [f"  ({len(flags)} open flag(s); {analyses} analysis record(s) in the store)"]
