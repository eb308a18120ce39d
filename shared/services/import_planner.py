"""What a season lacks, and importing it within the upstream quota.

:func:`gap_report` reads the season's schedule from f1schedule (one call), which sessions the F1
archive has from its ``<year>/Index.json`` (one call; a session's ``Feeds`` there give its topics,
else every type its session type can have is assumed; a session the index does not list has no
archive folder, so only Jolpica's results can exist), and what Firestore holds (``meetings/``,
``sessions/`` and ``imports/``), and hands them to the pure :func:`shared.imports.gaps.find_gaps`.

:func:`run_imports` plans within the calls left this hour (quota ledger, capped by ``max_calls``
when given, the report's own two calls included) with :func:`shared.imports.planning.plan` and
runs :func:`shared.services.session_import.import_session` in-process for each planned session,
oldest first. :func:`import_requests` turns a plan into the ``ImportRequest`` of each session
(FastF1 round number and session identifier from the schedule), for the in-process run and for
the ``plan_imports`` function, which enqueues them as Cloud Tasks instead.

Pre-season testing (round 0) is left out: FastF1 loads it another way and it has no results.
Circuit info is not imported yet (``import_session`` skips it), so the planner does not ask for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from shared.config import Settings
from shared.errors import NotFoundError, PitlaneError
from shared.ids import session_id as make_session_id
from shared.imports import quota
from shared.imports.gaps import (
    DataType,
    GapReport,
    Host,
    SessionGap,
    SessionHoldings,
    SessionSpec,
    estimate_calls,
    find_gaps,
    topics_from_index,
    upstream_types,
)
from shared.imports.planning import ImportPlan, plan
from shared.models.schedule import Session
from shared.schedule.f1schedule import parse_schedule
from shared.sources.f1schedule import fetch_schedule
from shared.sources.http import get
from shared.stores.session_store import session_path

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.services.session_import import ImportRequest, ImportResult

log = logging.getLogger(__name__)
# Types import_session can write (circuit info is not imported yet).
IMPORTABLE = frozenset(DataType) - {DataType.CIRCUIT_INFO}
# FastF1 session identifiers of Pitlane's session codes (sq: "SS" for 2023's Sprint Shootout).
FASTF1_SESSIONS = {"fp1": "FP1", "fp2": "FP2", "fp3": "FP3", "q": "Q", "sq": "SQ", "s": "S", "r": "R"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeasonGaps(_Model):
    """A season's gaps with what was read to find them."""

    year: int
    report: GapReport
    sessions: dict[str, Session] = Field(description="the schedule's sessions by id (testing left out)")
    specs: dict[str, SessionSpec]
    archive_index: bool = Field(description="whether the archive served <year>/Index.json")
    calls: dict[Host, int] = Field(description="upstream calls made to build the report")

    def upstream(self, session_id: str) -> list[DataType]:
        return sorted(upstream_types(self.specs[session_id]))

    def in_archive(self, session_id: str) -> bool | None:
        """Whether the archive has the session's folder (None: no index, unknown)."""
        topics = self.specs[session_id].topics
        return None if not self.archive_index else topics is None or bool(topics)


class SessionRun(BaseModel):
    session_id: str
    status: str
    data_types: list[DataType]
    calls: dict[Host, int] = Field(default_factory=dict)
    error: str | None = None


class RunSummary(BaseModel):
    season: int
    sessions: list[SessionRun]
    calls_spent: int = Field(description="upstream calls made (the report's included)")
    calls_left: int | None = Field(description="of max_calls, when given, else of the ledger's total")
    deferred: list[str]
    not_yet: list[str] = Field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _archive_topics(
    year: int, *, http: httpx.Client, settings: Settings
) -> dict[str, frozenset[str] | None] | None:
    """Session id -> topics (None: listed without ``Feeds``) from ``<year>/Index.json``; None when
    the archive has no index for the year."""
    url = f"{settings.f1_static_url.rstrip('/')}/static/{year}/Index.json"
    try:
        resp = get(http, url)
    except NotFoundError:
        return None
    try:
        index = json.loads(resp.content.decode("utf-8-sig"))  # the archive writes a BOM
    except ValueError:
        log.warning("archive index %s is not JSON: topics assumed", url)
        return None
    found: dict[str, frozenset[str] | None] = {}
    for meeting in index.get("Meetings") or []:
        for sess in meeting.get("Sessions") or []:
            try:
                sid = make_session_id(year, str(meeting["Name"]), str(sess["Name"]))
            except (KeyError, PitlaneError):
                continue  # unnamed or unknown session (e.g. a test day): not in the schedule
            found[sid] = topics_from_index(sess) if "Feeds" in sess else None
    return found


def _held(db: firestore.Client, sessions: list[Session]) -> tuple[set[str], dict[str, SessionHoldings]]:
    meeting_ids = sorted({s.meeting_id for s in sessions})
    refs = [db.document(f"meetings/{m}") for m in meeting_ids]
    refs += [db.document(session_path(s.session_id)) for s in sessions]
    refs += [db.document(f"imports/{s.session_id}") for s in sessions]
    snaps = {snap.reference.path: snap for snap in db.get_all(refs)}
    held_meetings = {m for m in meeting_ids if snaps[f"meetings/{m}"].exists}
    holdings = {}
    for s in sessions:
        status = snaps[f"imports/{s.session_id}"]
        holdings[s.session_id] = SessionHoldings.from_status_doc(
            s.session_id,
            status.to_dict() if status.exists else None,
            stored=snaps[session_path(s.session_id)].exists,
        )
    return held_meetings, holdings


def gap_report(
    season: int, *, db: firestore.Client, http: httpx.Client, settings: Settings, now: datetime | None = None
) -> GapReport:
    """The season's gaps (see module doc): two upstream calls and a few Firestore reads."""
    return season_gaps(season, db=db, http=http, settings=settings, now=now).report


def season_gaps(
    season: int, *, db: firestore.Client, http: httpx.Client, settings: Settings, now: datetime | None = None
) -> SeasonGaps:
    """:func:`gap_report` with the schedule, specs and calls it read (what planning needs)."""
    parsed = parse_schedule(fetch_schedule(season, http=http, settings=settings), year=season)
    sessions = [s for s in parsed.sessions if s.round > 0]
    archive = _archive_topics(season, http=http, settings=settings)
    specs: dict[str, SessionSpec] = {}
    for s in sessions:
        if archive is None:
            specs[s.session_id] = SessionSpec.from_session(s)
        else:
            listed = s.session_id in archive
            topics = archive.get(s.session_id) if listed else frozenset()
            specs[s.session_id] = SessionSpec.from_session(s, topics=topics)
    held_meetings, holdings = _held(db, sessions)
    report = find_gaps(
        season, specs.values(), held_meetings=held_meetings, holdings=holdings, now=now or _utcnow()
    )
    return SeasonGaps(
        year=season,
        report=report,
        sessions={s.session_id: s for s in sessions},
        specs=specs,
        archive_index=archive is not None,
        calls={Host.F1SCHEDULE: 1, Host.F1_STATIC: 1},
    )


def importable(gaps: SeasonGaps) -> GapReport:
    """``gaps.report`` with only what ``import_session`` writes, calls estimated again."""
    kept: list[SessionGap] = []
    for gap in gaps.report.sessions:
        missing = tuple(t for t in gap.missing if t in IMPORTABLE)
        if missing:
            calls = estimate_calls(gaps.specs[gap.session_id], missing)
            kept.append(gap.model_copy(update={"missing": missing, "calls": calls}))
    season = gaps.report.season_calls if kept else {}
    total: dict[Host, int] = dict(season)
    for gap in kept:
        for host, n in gap.calls.items():
            total[host] = total.get(host, 0) + n
    return gaps.report.model_copy(update={"sessions": tuple(kept), "season_calls": season, "calls": total})


def worst_calls(gap: SessionGap) -> int:
    """An upper bound of the calls importing ``gap`` makes, for a hard cap: FastF1 asks its mirror
    (the archive again) for every file the archive lacks, and Jolpica for results of any session."""
    return 2 * gap.calls.get(Host.F1_STATIC, 0) + gap.calls.get(Host.JOLPICA, 0) + 1


def plan_season(
    gaps: SeasonGaps,
    *,
    db: firestore.Client,
    settings: Settings,
    max_calls: int | None = None,
    now: datetime,
    spent: int = 0,
) -> ImportPlan:
    """Plan ``gaps`` within the ledger's calls left this hour and, when given, ``max_calls`` total
    (``spent`` of it already used, e.g. by the report)."""
    left = quota.budget(db, limits=quota.limits(settings), now=now)
    report = importable(gaps)
    if max_calls is None:
        return plan(report, budget=left)
    cap = max(0, max_calls - spent)
    return plan(report, budget={h: min(n, cap) for h, n in left.items()})


def fastf1_session(session: Session) -> str:
    if session.code == "sq" and session.name.strip().lower() == "sprint shootout":
        return "SS"
    return FASTF1_SESSIONS[session.code]


def import_requests(gaps: SeasonGaps, planned: ImportPlan) -> list[ImportRequest]:
    """One ``ImportRequest`` per planned session, in plan order (event: the round number)."""
    from shared.services.session_import import ImportRequest

    out = []
    for gap in planned.sessions:
        s = gaps.sessions[gap.session_id]
        out.append(
            ImportRequest(
                session_id=s.session_id,
                year=s.year,
                event=s.round,
                session=fastf1_session(s),
                data_types=list(gap.missing),
            )
        )
    return out


def types_hash(types: list[DataType]) -> str:
    """A short stable digest of a set of data types (task names differ when the types do)."""
    return hashlib.sha256(",".join(sorted(t.value for t in types)).encode()).hexdigest()[:10]


def run_imports(
    season: int,
    *,
    db: firestore.Client,
    http: httpx.Client,
    settings: Settings,
    max_calls: int | None = None,
    now: datetime | None = None,
    progress: Callable[[SessionRun], None] | None = None,
) -> RunSummary:
    """Import the season's gaps that fit this hour's quota (and ``max_calls``), oldest first."""
    from shared.services.session_import import import_session

    clock: Callable[[], datetime] = _utcnow if now is None else (lambda: now)
    gaps = season_gaps(season, db=db, http=http, settings=settings, now=clock())
    spent = sum(gaps.calls.values())
    planned = plan_season(gaps, db=db, settings=settings, max_calls=max_calls, now=clock(), spent=spent)
    report = importable(gaps)
    runs: list[SessionRun] = []
    deferred = [g.session_id for g in planned.deferred]
    fastf1_season = sum(report.season_calls.values())  # FastF1 reads the schedule before the first
    for n, (gap, req) in enumerate(zip(planned.sessions, import_requests(gaps, planned), strict=True)):
        if max_calls is not None and spent + fastf1_season * (n == 0) + worst_calls(gap) > max_calls:
            deferred = [g.session_id for g in planned.sessions[n:]] + deferred
            break
        run = SessionRun(session_id=req.session_id, status="failed", data_types=req.data_types)
        try:
            result: ImportResult = import_session(req, db=db, settings=settings, now=clock)
            run.status, run.calls = result.status, dict(result.calls)
            run.data_types = sorted(result.types) or req.data_types
        except PitlaneError as exc:  # transient (quota, nothing loaded): the next run asks again
            run.error = str(exc)
            log.warning("import %s failed: %s", req.session_id, exc)
            # its calls are unknown: count the bound (and FastF1's schedule read), never fewer
            run.calls = {Host.F1_STATIC: worst_calls(gap) + fastf1_season * (n == 0)}
        spent += sum(run.calls.values())
        runs.append(run)
        if progress is not None:
            progress(run)
    if max_calls is not None:
        left: int | None = max(0, max_calls - spent)
    else:
        left = sum(quota.budget(db, limits=quota.limits(settings), now=clock()).values())
    return RunSummary(
        season=season,
        sessions=runs,
        calls_spent=spent,
        calls_left=left,
        deferred=deferred,
        not_yet=list(gaps.report.not_yet),
    )


def report_rows(gaps: SeasonGaps) -> list[dict[str, Any]]:
    """Per gap: the types upstream has and the ones missing here (for the CLI)."""
    return [
        {
            "session_id": g.session_id,
            "start_utc": g.start_utc.isoformat(),
            "in_archive": gaps.in_archive(g.session_id),
            "upstream": [t.value for t in gaps.upstream(g.session_id)],
            "missing": [t.value for t in g.missing],
            "session_missing": g.session_missing,
            "calls": {h.value: n for h, n in g.calls.items()},
        }
        for g in gaps.report.sessions
    ]


def summary_counts(calls: Mapping[Host, int]) -> dict[str, int]:
    return {h.value: n for h, n in sorted(calls.items())}
