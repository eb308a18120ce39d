"""Gap detection: what the season's schedule says exists upstream that Firestore does not hold (pure).

Inputs are already fetched: the season's sessions (:class:`SessionSpec`, from Jolpica and
f1schedule, with the archive topics each session folder lists when known), the meeting ids held in
``meetings/``, and per session what is stored (:class:`SessionHoldings`, from ``sessions/{id}`` and
the import status document ``imports/{session_id}``). The output, :class:`GapReport`, lists the
missing meetings, the missing sessions, per session the missing data types, and the upstream calls
per host an import would cost (estimates: the ``*_CALLS``/``*_TOPICS`` constants below).

Times are timezone-aware UTC. A session is only a gap once its data can exist upstream: the archive
publishes a session's files within an hour or so of its end (``AVAILABLE_AFTER``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.models.schedule import Session


class Host(StrEnum):
    """Upstream hosts with a quota (one ledger per host, whatever base URL settings give them)."""

    F1_STATIC = "f1_static"  # the F1 live-timing archive, livetiming.formula1.com/static
    JOLPICA = "jolpica"  # api.jolpi.ca/ergast/f1: results, laps; 200 calls an hour
    F1SCHEDULE = "f1schedule"  # theOehrly/f1schedule on raw.githubusercontent.com
    MULTIVIEWER = "multiviewer"  # api.multiviewer.com circuit info (corners, rotation)


class DataType(StrEnum):
    RESULTS = "results"  # classification (Jolpica): qualifying, sprint and race only
    LAPS = "laps"  # sessions/{id}/laps from TimingData (+ TimingAppData for tyres)
    WEATHER = "weather"  # sessions/{id}/weather from WeatherData
    RACE_CONTROL = "race_control"  # sessions/{id}/race_control from RaceControlMessages
    STINTS = "stints"  # tyre stints from TimingAppData
    CIRCUIT_INFO = "circuit_info"  # MultiViewer corners and marshal sectors


ImportState = Literal["complete", "partial", "failed", "unavailable"]

# Session codes (shared.ids) with a classification on Jolpica; sprint qualifying has none.
RESULT_CODES = frozenset({"q", "s", "r"})
# FastF1 asks Jolpica for lap 1 (first-lap times) of races and sprints.
JOLPICA_LAP_CODES = frozenset({"r", "s"})
# The archive topics FastF1 reads for each data type (Session.load with laps, weather, messages).
TOPICS: dict[DataType, frozenset[str]] = {
    DataType.LAPS: frozenset({"TimingData", "TimingAppData"}),
    DataType.STINTS: frozenset({"TimingAppData"}),
    DataType.WEATHER: frozenset({"WeatherData"}),
    DataType.RACE_CONTROL: frozenset({"RaceControlMessages"}),
}
# What one FastF1 ``Session.load`` fetches, whatever is asked: the session's identity and driver
# list from the archive and, but for sprint qualifying, a classification from Jolpica (the race's
# for practice sessions: FastF1 takes driver details from it). Loading laps adds the session and
# track status, the lap count (races and sprints) and, for those, Jolpica's lap 1 (first-lap times).
# MultiViewer: one circuit-info call. f1schedule: FastF1 reads the season's schedule once per
# process before loading any session.
BASE_TOPICS = frozenset({"SessionInfo", "DriverList"})
LAP_TOPICS = frozenset({"SessionStatus", "TrackStatus"})
LAP_COUNT_CODES = frozenset({"r", "s"})
NO_JOLPICA_CODES = frozenset({"sq"})
ARCHIVE_CALLS_PER_TOPIC = 1
JOLPICA_RESULTS_CALLS = 1
JOLPICA_LAPS_CALLS = 1
CIRCUIT_INFO_CALLS = 1
SCHEDULE_CALLS_PER_SEASON = 1
AVAILABLE_AFTER = timedelta(hours=4)  # after the start: the session (<= 2-3 h) ended, files are up


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionSpec(_Model):
    """One session of the season's schedule; ``topics`` the archive topics of its folder, None when
    unknown (then every data type its session type can have is assumed to exist)."""

    session_id: str
    meeting_id: str
    year: int
    code: str = Field(description="fp1, fp2, fp3, sq, s, q or r")
    start_utc: AwareDatetime
    cancelled: bool = False
    topics: frozenset[str] | None = None
    absent: frozenset[DataType] = Field(
        default=frozenset(), description="types an import found upstream does not have"
    )

    @classmethod
    def from_session(cls, session: Session, *, topics: Iterable[str] | None = None) -> SessionSpec:
        return cls(
            session_id=session.session_id,
            meeting_id=session.meeting_id,
            year=session.year,
            code=session.code,
            start_utc=session.start_utc,
            cancelled=session.cancelled,
            topics=frozenset(topics) if topics is not None else None,
        )


class SessionHoldings(_Model):
    """What Firestore holds for one session: whether ``sessions/{id}`` exists and the state of each
    data type in ``imports/{session_id}`` (a type absent from ``types`` was never imported)."""

    session_id: str
    stored: bool = True
    types: dict[DataType, ImportState] = Field(default_factory=dict)

    @classmethod
    def from_status_doc(
        cls, session_id: str, doc: Mapping[str, Any] | None, *, stored: bool
    ) -> SessionHoldings:
        """From an ``imports/{session_id}`` document (``{"types": {"laps": "complete", ...}}``);
        unknown type names or states are ignored (treated as never imported)."""
        raw = (doc or {}).get("types") or {}
        types: dict[DataType, ImportState] = {}
        for name, state in raw.items():
            if name in DataType.__members__.values() and state in (
                "complete",
                "partial",
                "failed",
                "unavailable",
            ):
                types[DataType(name)] = state
        return cls(session_id=session_id, stored=stored, types=types)

    def holds(self, kind: DataType) -> bool:
        """Complete, or known not to exist upstream: nothing to import. Partial and failed retry."""
        return self.types.get(kind) in ("complete", "unavailable")


class SessionGap(_Model):
    session_id: str
    meeting_id: str
    start_utc: AwareDatetime
    code: str
    session_missing: bool = Field(description="no sessions/{id} document")
    missing: tuple[DataType, ...]
    calls: dict[Host, int] = Field(description="estimated upstream calls to import the missing types")


class GapReport(_Model):
    year: int
    missing_meetings: tuple[str, ...] = Field(description="no meetings/{id} document")
    missing_sessions: tuple[str, ...] = Field(description="no sessions/{id} document")
    sessions: tuple[SessionGap, ...] = Field(description="sessions with anything missing, by start")
    season_calls: dict[Host, int] = Field(description="once per run that imports anything")
    calls: dict[Host, int] = Field(description="every gap plus season_calls")
    not_yet: tuple[str, ...] = Field(default=(), description="sessions too recent (or future) to import")


def topics_from_listing(names: Iterable[str]) -> frozenset[str]:
    """Topics of a session folder's file names (``TimingData.jsonStream``, ``Position.z.jsonStream``)."""
    return frozenset(
        n.split(".", 1)[0] for n in names if n.endswith((".jsonStream", ".json")) and n != "Index.json"
    )


def topics_from_index(index: Mapping[str, Any]) -> frozenset[str]:
    """Topics of a session folder's ``Index.json`` (``{"Feeds": {"TimingData": {...}, ...}}``)."""
    feeds = index.get("Feeds")
    return frozenset(str(k).removesuffix(".z") for k in feeds) if isinstance(feeds, Mapping) else frozenset()


def upstream_types(spec: SessionSpec) -> frozenset[DataType]:
    """Data types that can exist upstream for ``spec`` (by topics when known, else session type)."""
    kinds = {DataType.CIRCUIT_INFO}
    if spec.code in RESULT_CODES:
        kinds.add(DataType.RESULTS)
    for kind, needs in TOPICS.items():
        if spec.topics is None or needs <= spec.topics:
            kinds.add(kind)
    return frozenset(kinds) - spec.absent


def estimate_calls(spec: SessionSpec, missing: Iterable[DataType]) -> dict[Host, int]:
    """Upstream calls per host to import ``missing`` for ``spec`` with one FastF1 load (zero hosts
    omitted); an upper bound: files absent upstream cost one call each all the same."""
    kinds = set(missing)
    if not kinds:
        return {}
    topics = set(BASE_TOPICS).union(*(TOPICS[k] for k in kinds if k in TOPICS))
    laps = bool(kinds & {DataType.LAPS, DataType.STINTS})
    if laps:
        topics |= LAP_TOPICS | ({"LapCount"} if spec.code in LAP_COUNT_CODES else set())
    calls: dict[Host, int] = {Host.F1_STATIC: ARCHIVE_CALLS_PER_TOPIC * len(topics)}
    jolpica = 0 if spec.code in NO_JOLPICA_CODES else JOLPICA_RESULTS_CALLS
    if laps and spec.code in JOLPICA_LAP_CODES:
        jolpica += JOLPICA_LAPS_CALLS
    if jolpica:
        calls[Host.JOLPICA] = jolpica
    if DataType.CIRCUIT_INFO in kinds:
        calls[Host.MULTIVIEWER] = CIRCUIT_INFO_CALLS
    return calls


def _add(total: dict[Host, int], calls: Mapping[Host, int]) -> None:
    for host, n in calls.items():
        total[host] = total.get(host, 0) + n


def find_gaps(
    year: int,
    schedule: Iterable[SessionSpec],
    *,
    held_meetings: Iterable[str],
    holdings: Mapping[str, SessionHoldings],
    now: datetime,
) -> GapReport:
    """The season's gaps: ``holdings`` maps session id to what is stored (absent: nothing stored).

    Cancelled sessions are never gaps; sessions that started less than ``AVAILABLE_AFTER`` before
    ``now`` are listed in ``not_yet``.
    """
    held = set(held_meetings)
    specs = sorted((s for s in schedule if not s.cancelled), key=lambda s: (s.start_utc, s.session_id))
    gaps: list[SessionGap] = []
    not_yet: list[str] = []
    missing_meetings: list[str] = []
    missing_sessions: list[str] = []
    for spec in specs:
        if spec.start_utc + AVAILABLE_AFTER > now:
            not_yet.append(spec.session_id)
            continue
        if spec.meeting_id not in held and spec.meeting_id not in missing_meetings:
            missing_meetings.append(spec.meeting_id)
        have = holdings.get(spec.session_id) or SessionHoldings(session_id=spec.session_id, stored=False)
        if not have.stored:
            missing_sessions.append(spec.session_id)
        missing = tuple(k for k in DataType if k in upstream_types(spec) and not have.holds(k))
        if missing:  # a session upstream has nothing of is no gap, stored or not
            gap = SessionGap(
                session_id=spec.session_id,
                meeting_id=spec.meeting_id,
                start_utc=spec.start_utc,
                code=spec.code,
                session_missing=not have.stored,
                missing=missing,
                calls=estimate_calls(spec, missing),
            )
            gaps.append(gap)
    season = {Host.F1SCHEDULE: SCHEDULE_CALLS_PER_SEASON} if gaps else {}
    total: dict[Host, int] = dict(season)
    for gap in gaps:
        _add(total, gap.calls)
    return GapReport(
        year=year,
        missing_meetings=tuple(missing_meetings),
        missing_sessions=tuple(missing_sessions),
        sessions=tuple(gaps),
        season_calls=season,
        calls=total,
        not_yet=tuple(not_yet),
    )
