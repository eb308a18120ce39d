"""What a season lacks, and importing it within the upstream quota.

:func:`season_gaps` reads the season's catalogue (:func:`catalogue`: the schedule from f1schedule
and the archive's ``<year>/Index.json``, two upstream calls charged to the quota ledger, kept in
``import_seasons/{year}`` and read again only while the season can still change), what Firestore
holds (``meetings/``, ``sessions/`` and ``imports/``), and hands them to the pure
:func:`shared.imports.gaps.find_gaps`. A session the index does not list has no archive folder,
so only Jolpica's results and the circuit can exist; a listed session without ``Feeds`` is
assumed to have every type its kind can have, until its import finds out (types upstream lacks
end ``unavailable`` and are never asked for again). A finished season whose every session is
known therefore costs no upstream call at all: the second run of ``pitlane gaps import`` makes
none.

:func:`run_imports` plans within the calls left this hour (quota ledger, capped by ``max_calls``
when given, the catalogue's calls included) with :func:`shared.imports.planning.plan` and runs
:func:`shared.services.session_import.import_session` in-process for each planned session,
oldest first, stopping before a session whose estimate would overrun ``max_calls``.
:func:`import_requests` turns a plan into the ``ImportRequest`` of each session (FastF1 round
number and session identifier from the schedule), for the in-process run and for the
``plan_imports`` function, which enqueues them as Cloud Tasks instead.

Pre-season testing (round 0) is left out: FastF1 loads it another way and it has no results.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared.config import Settings
from shared.errors import NotFoundError, PitlaneError, TransientError
from shared.ids import session_id as make_session_id
from shared.imports import quota
from shared.imports.gaps import (
    AVAILABLE_AFTER,
    DataType,
    GapReport,
    Host,
    SessionHoldings,
    SessionSpec,
    find_gaps,
    topics_from_index,
    upstream_types,
)
from shared.imports.planning import ImportPlan, plan
from shared.imports.runs import RunSummary, SessionOutcome, summarise
from shared.models.schedule import Meeting, Session
from shared.schedule.f1schedule import parse_schedule
from shared.sources.f1schedule import fetch_schedule
from shared.sources.http import get
from shared.stores import imports as store
from shared.stores import schedule as schedule_store
from shared.stores.session_store import session_path

if TYPE_CHECKING:
    from google.cloud import firestore

    from shared.services.session_import import ImportRequest, ImportResult

log = logging.getLogger(__name__)
# FastF1 session identifiers of Pitlane's session codes (sq: "SS" for 2023's Sprint Shootout).
FASTF1_SESSIONS = {"fp1": "FP1", "fp2": "FP2", "fp3": "FP3", "q": "Q", "sq": "SQ", "s": "S", "r": "R"}
# A catalogue read while the season could still change is read again after this long.
CATALOGUE_TTL = timedelta(hours=1)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeasonCatalogue(_Model):
    """What a season holds upstream, as read from f1schedule and the archive index
    (``import_seasons/{year}``): ``archive`` maps session id to its archive topics (None: listed
    without ``Feeds``; absent: not in the index); ``archive`` None when the year has no index."""

    year: int
    fetched_utc: AwareDatetime
    meetings: list[Meeting] = Field(
        default_factory=list, description="the schedule's meetings, testing left out"
    )
    sessions: list[Session] = Field(description="the schedule's sessions, testing left out")
    archive: dict[str, list[str] | None] | None

    def spec(self, session: Session) -> SessionSpec:
        if self.archive is None:
            return SessionSpec.from_session(session)
        listed = session.session_id in self.archive
        topics = self.archive.get(session.session_id) if listed else []
        return SessionSpec.from_session(session, topics=topics)

    def settled(self) -> bool:
        """Read after every session could be imported: the season will not change upstream."""
        return all(s.start_utc + AVAILABLE_AFTER <= self.fetched_utc for s in self.sessions)


class SeasonGaps(_Model):
    """A season's gaps with what was read to find them."""

    year: int
    report: GapReport
    meetings: dict[str, Meeting] = Field(default_factory=dict)
    sessions: dict[str, Session] = Field(description="the schedule's sessions by id (testing left out)")
    specs: dict[str, SessionSpec]
    archive_index: bool = Field(description="whether the archive served <year>/Index.json")
    calls: dict[Host, int] = Field(description="upstream calls made to build the report (0: catalogue kept)")

    def upstream(self, session_id: str) -> list[DataType]:
        """Types upstream has for the session: the ones imported or known absent are certain, the
        others are what the archive index and the session's kind promise."""
        return sorted(upstream_types(self.specs[session_id]))

    def in_archive(self, session_id: str) -> bool | None:
        """Whether the archive has the session's folder (None: no index, unknown)."""
        topics = self.specs[session_id].topics
        return None if not self.archive_index else topics is None or bool(topics)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _archive_topics(
    year: int, *, http: httpx.Client, settings: Settings
) -> dict[str, list[str] | None] | None:
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
    found: dict[str, list[str] | None] = {}
    for meeting in index.get("Meetings") or []:
        for sess in meeting.get("Sessions") or []:
            try:
                sid = make_session_id(year, str(meeting["Name"]), str(sess["Name"]))
            except (KeyError, PitlaneError):
                continue  # unnamed or unknown session (e.g. a test day): not in the schedule
            found[sid] = sorted(topics_from_index(sess)) if "Feeds" in sess else None
    return found


def catalogue(
    season: int,
    *,
    db: firestore.Client,
    http: httpx.Client,
    settings: Settings,
    now: datetime,
    refresh: bool = False,
) -> tuple[SeasonCatalogue, dict[Host, int]]:
    """The season's catalogue and the upstream calls reading it cost: none when the stored one
    stands (a settled season, or read less than :data:`CATALOGUE_TTL` ago), else two, reserved in
    the quota ledger first (:class:`TransientError` when the hour's quota is spent)."""
    stored = store.read_catalogue(db, season)
    if stored is not None and not refresh:
        try:
            kept = SeasonCatalogue.model_validate(stored)
        except ValidationError:
            kept = None  # an older shape: read again
        if kept is not None and (kept.settled() or now - kept.fetched_utc < CATALOGUE_TTL):
            return kept, {}
    calls = {Host.F1SCHEDULE: 1, Host.F1_STATIC: 1}
    if not quota.reserve_all(db, calls, limits=quota.limits(settings), now=now):
        raise TransientError(f"import quota used up this hour: reading the {season} catalogue needs {calls}")
    parsed = parse_schedule(fetch_schedule(season, http=http, settings=settings), year=season)
    cat = SeasonCatalogue(
        year=season,
        fetched_utc=now,
        meetings=[m for m in parsed.meetings if m.round > 0],
        sessions=[s for s in parsed.sessions if s.round > 0],
        archive=_archive_topics(season, http=http, settings=settings),
    )
    store.write_catalogue(db, season, cat.model_dump(mode="json"))
    return cat, calls


def _held(db: firestore.Client, sessions: list[Session]) -> tuple[set[str], dict[str, SessionHoldings]]:
    meeting_ids = sorted({s.meeting_id for s in sessions})
    refs = [db.document(f"meetings/{m}") for m in meeting_ids]
    refs += [db.document(session_path(s.session_id)) for s in sessions]
    refs += [db.document(store.status_path(s.session_id)) for s in sessions]
    snaps = {snap.reference.path: snap for snap in db.get_all(refs)}
    held_meetings = {m for m in meeting_ids if snaps[f"meetings/{m}"].exists}
    holdings = {}
    for s in sessions:
        status = snaps[store.status_path(s.session_id)]
        holdings[s.session_id] = SessionHoldings.from_status_doc(
            s.session_id,
            status.to_dict() if status.exists else None,
            stored=snaps[session_path(s.session_id)].exists,
        )
    return held_meetings, holdings


def gap_report(
    season: int, *, db: firestore.Client, http: httpx.Client, settings: Settings, now: datetime | None = None
) -> GapReport:
    """The season's gaps (see module doc)."""
    return season_gaps(season, db=db, http=http, settings=settings, now=now).report


def season_gaps(
    season: int,
    *,
    db: firestore.Client,
    http: httpx.Client,
    settings: Settings,
    now: datetime | None = None,
    refresh: bool = False,
    rounds: tuple[int, int] | None = None,
) -> SeasonGaps:
    """:func:`gap_report` with the schedule, specs and calls it read (what planning needs);
    ``rounds`` (first, last) keeps those rounds only."""
    now = now or _utcnow()
    cat, calls = catalogue(season, db=db, http=http, settings=settings, now=now, refresh=refresh)
    if rounds is not None:
        first, last = rounds
        cat = cat.model_copy(
            update={
                "meetings": [m for m in cat.meetings if first <= m.round <= last],
                "sessions": [s for s in cat.sessions if first <= s.round <= last],
            }
        )
    specs = {s.session_id: cat.spec(s) for s in cat.sessions}
    held_meetings, holdings = _held(db, cat.sessions)
    for sid, have in holdings.items():  # what an import found out beats what the index promised
        specs[sid] = _known(specs[sid], have)
    report = find_gaps(season, specs.values(), held_meetings=held_meetings, holdings=holdings, now=now)
    return SeasonGaps(
        year=season,
        report=report,
        meetings={m.meeting_id: m for m in cat.meetings},
        sessions={s.session_id: s for s in cat.sessions},
        specs=specs,
        archive_index=cat.archive is not None,
        calls=calls,
    )


def _known(spec: SessionSpec, have: SessionHoldings) -> SessionSpec:
    """``spec`` with the types an import found absent upstream (``unavailable``) marked so."""
    gone = frozenset(t for t, state in have.types.items() if state == "unavailable")
    return spec.model_copy(update={"absent": gone}) if gone else spec


def fill_schedule(db: firestore.Client, gaps: SeasonGaps) -> int:
    """Write the schedule documents (``meetings/{id}``, ``sessions/{id}``) of past meetings and
    sessions Firestore lacks, from the catalogue (no upstream call); documents that exist are
    left to the schedule sync. Returns documents written."""
    meetings = [gaps.meetings[m] for m in gaps.report.missing_meetings if m in gaps.meetings]
    sessions = [gaps.sessions[s] for s in gaps.report.missing_sessions if s in gaps.sessions]
    written = 0
    if meetings:
        counts = schedule_store.upsert_meetings(db, meetings)
        written += counts.created + counts.updated
    if sessions:
        counts = schedule_store.upsert_sessions(db, sessions)
        written += counts.created + counts.updated
    return written


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
    (``spent`` of it already used, e.g. by reading the catalogue)."""
    left = quota.budget(db, limits=quota.limits(settings), now=now)
    if max_calls is None:
        return plan(gaps.report, budget=left)
    cap = max(0, max_calls - spent)
    return plan(gaps.report, budget={h: min(n, cap) for h, n in left.items()})


def fastf1_session(session: Session) -> str:
    if session.code == "sq" and session.name.strip().lower() == "sprint shootout":
        return "SS"
    return FASTF1_SESSIONS[session.code]


def import_requests(
    gaps: SeasonGaps, planned: ImportPlan, *, run_id: str | None = None
) -> list[ImportRequest]:
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
                run_id=run_id,
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
    progress: Callable[[SessionOutcome], None] | None = None,
    refresh: bool = False,
    rounds: tuple[int, int] | None = None,
) -> RunSummary:
    """Import the season's gaps that fit this hour's quota (and ``max_calls``), oldest first."""
    from shared.services.session_import import import_session

    clock: Callable[[], datetime] = _utcnow if now is None else (lambda: now)
    started = clock()
    run_id = f"cli-{season}-{started.strftime('%Y%m%dT%H%M%S')}"
    gaps = season_gaps(
        season, db=db, http=http, settings=settings, now=started, refresh=refresh, rounds=rounds
    )
    fill_schedule(db, gaps)
    spent = sum(gaps.calls.values())
    planned = plan_season(gaps, db=db, settings=settings, max_calls=max_calls, now=clock(), spent=spent)
    outcomes: list[SessionOutcome] = []
    deferred = [g.session_id for g in planned.deferred]
    season_calls = sum(gaps.report.season_calls.values())  # FastF1 reads the schedule before the first
    for n, (gap, req) in enumerate(zip(planned.sessions, import_requests(gaps, planned), strict=True)):
        estimate = sum(gap.calls.values()) + season_calls * (n == 0)
        if max_calls is not None and spent + estimate > max_calls:
            deferred = [g.session_id for g in planned.sessions[n:]] + deferred
            break
        outcome = SessionOutcome(session_id=req.session_id, status="failed", data_types=req.data_types)
        try:
            result: ImportResult = import_session(req, db=db, settings=settings, now=clock)
            outcome.status, outcome.calls = result.status, dict(result.calls)
            outcome.data_types = sorted(result.types) or req.data_types
        except PitlaneError as exc:  # transient (quota, nothing loaded): the next run asks again
            outcome.error = str(exc)
            log.warning("import %s failed: %s", req.session_id, exc)
            outcome.calls = {Host.F1_STATIC: estimate}  # unknown: never count fewer than planned
        spent += sum(outcome.calls.values())
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    if max_calls is not None:
        left: int | None = max(0, max_calls - spent)
    else:
        left = sum(quota.budget(db, limits=quota.limits(settings), now=clock()).values())
    return summarise(
        run_id=run_id,
        season=season,
        outcomes=outcomes,
        planning_calls=gaps.calls,
        calls_left=left,
        deferred=deferred,
        not_yet=gaps.report.not_yet,
        started=started,
        ended=_utcnow(),
    )


def report_rows(
    gaps: SeasonGaps, holdings_status: Mapping[str, str | None] | None = None
) -> list[dict[str, Any]]:
    """Every session of the season, by start: the types upstream has, the ones missing here (empty
    when nothing is), the estimated calls to import them, and whether it is too recent yet."""
    found = {g.session_id: g for g in gaps.report.sessions}
    not_yet = set(gaps.report.not_yet)
    rows = []
    for sid, session in sorted(gaps.sessions.items(), key=lambda kv: (kv[1].start_utc, kv[0])):
        spec = gaps.specs[sid]
        if spec.cancelled:
            continue
        gap = found.get(sid)
        rows.append(
            {
                "session_id": sid,
                "start_utc": session.start_utc.isoformat(),
                "in_archive": gaps.in_archive(sid),
                "upstream": [t.value for t in gaps.upstream(sid)],
                "missing": [t.value for t in gap.missing] if gap else [],
                "session_missing": gap.session_missing if gap else False,
                "not_yet": sid in not_yet,
                "calls": {h.value: n for h, n in gap.calls.items()} if gap else {},
            }
        )
    return rows


def summary_counts(calls: Mapping[Host, int]) -> dict[str, int]:
    return {h.value: n for h, n in sorted(calls.items())}
