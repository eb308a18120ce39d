"""The session-state reducer: live-timing feed messages in, session state and race events out.

One :class:`SessionReducer` per session folds the feed (live, archive or recording; see
``shared.feed``) into the contract of ``shared.timing.models``. Each :meth:`SessionReducer.apply`
returns the :class:`Changes` it made, which the writers persist and publish as they are.

* Malformed input never raises: an unknown topic, a payload of the wrong shape, a message more
  than 5 s older than the newest one (live publishers jitter by a few ms; further back is a replay
  or corruption) or the exact same message twice within those 5 s is skipped and counted in
  ``stats.skipped`` by reason; the state goes on.
* Events (:class:`RaceEvent`) have deterministic keys (``<driver>_<lap>``, ``<status>_<k>`` for the
  k-th occurrence, race control ``<n>``), and the reducer remembers every id it emitted, so a
  restored reducer fed the same input again emits nothing twice.
* A lap is final 5 s after F1 counted it complete (late sector and lap times, see ``laps.py``).
* :meth:`SessionReducer.checkpoint` is JSON and complete: restoring it and continuing gives the
  same state, laps and events as never stopping.

Pure domain logic: no I/O, no clients.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.errors import BadRequestError
from shared.feed.merge import merge_delta
from shared.feed.messages import FeedMessage
from shared.ids import session_id as make_session_id
from shared.ids import slug
from shared.timing.changes import Changes, ReducerStats
from shared.timing.lap_output import DUPLICATE, LapOutput
from shared.timing.laps import DriverLaps, LapEvent
from shared.timing.models import (
    DriverRow,
    EventKind,
    Lap,
    RaceControlMessage,
    RaceEvent,
    SessionLive,
    TimingTower,
    TrackStatus,
    WeatherSample,
)
from shared.timing.race_control import parse_race_control, parse_weather, race_control_entries
from shared.timing.session import SessionState
from shared.timing.stints import DriverStints
from shared.timing.tower import build_tower, driver_row, patch_timing
from shared.timing.values import as_bool, as_int

__all__ = ["Changes", "ReducerStats", "SessionReducer"]

REORDER_TOLERANCE = timedelta(seconds=5)
LINE_TOPICS = ("TimingData", "TimingAppData")
TOPICS = frozenset(
    {*LINE_TOPICS, "DriverList", "SessionInfo", "SessionStatus", "TrackStatus", "LapCount"}
    | {"RaceControlMessages", "WeatherData"}
)
ROW_KEYS = {  # the keys of a driver's line that DriverRow shows (Speeds, Line... are not shown)
    "TimingData": frozenset(
        {"Position", "GapToLeader", "TimeDiffToFastest", "IntervalToPositionAhead", "TimeDiffToPositionAhead"}
        | {"LastLapTime", "BestLapTime", "Sectors", "NumberOfLaps", "InPit", "PitOut", "NumberOfPitStops"}
        | {"Retired", "Stopped"}
    ),
    "TimingAppData": frozenset({"Stints"}),
    "DriverList": frozenset({"Tla", "FullName", "TeamName", "TeamColour"}),
}
# skip reasons in ReducerStats.skipped (and DUPLICATE: a repeated message or lap)
UNKNOWN_TOPIC, BAD_PAYLOAD, OUT_OF_ORDER = "unknown_topic", "bad_payload", "out_of_order"
BAD_RACE_CONTROL, BAD_LINE = "bad_race_control", "bad_driver_line"


class SessionReducer(LapOutput):
    """Folds one session's feed into its state (see the module docstring)."""

    def __init__(self, *, session_id: str | None = None) -> None:
        self.session_id = session_id
        self.stats = ReducerStats()
        self._states: dict[str, Any] = {}  # topic -> merged raw state (Lines topics per driver)
        self._s = SessionState()
        self._builders: dict[str, DriverLaps] = {}
        self._stints: dict[str, DriverStints] = {}
        self._rows: dict[str, dict[str, Any]] = {}
        self._laps: list[Lap] = []
        self._lap_index: dict[str, int] = {}  # Lap.doc_id -> index in _laps
        self._race_control: dict[int, RaceControlMessage] = {}
        self._weather: list[WeatherSample] = []
        self._emitted: set[str] = set()
        self._watermark: datetime | None = None
        self._recent: deque[FeedMessage] = deque()  # messages of the last 5 s, to drop repeats
        self._next_due: datetime | None = None
        self._quiet = False  # a snapshot is a state, not occurrences: no events

    # -- input -----------------------------------------------------------------------------

    def apply(self, msg: FeedMessage) -> Changes:
        """Merge one feed message; returns what changed."""
        self.stats.messages += 1
        changes = Changes()
        if msg.topic not in TOPICS:
            self.stats.skipped[UNKNOWN_TOPIC] += 1
            return changes
        if not isinstance(msg.payload, dict) or not isinstance(msg.utc, datetime) or msg.utc.tzinfo is None:
            self.stats.skipped[BAD_PAYLOAD] += 1
            return changes
        if not self._admit(msg):
            return changes
        if self._next_due is not None and msg.utc >= self._next_due:
            self._finalize_laps(msg.utc, changes)
        try:
            self._dispatch(msg.topic, msg.payload, msg.utc, changes)
        except (TypeError, ValueError, KeyError, AttributeError, ValidationError):
            self.stats.skipped[BAD_PAYLOAD] += 1
        self._s.updated_utc = msg.utc
        return changes

    def _admit(self, msg: FeedMessage) -> bool:
        """Drop messages far out of order and exact repeats within the reorder tolerance."""
        mark = self._watermark
        if mark is not None and msg.utc < mark - REORDER_TOLERANCE:
            self.stats.skipped[OUT_OF_ORDER] += 1
            return False
        if mark is not None and msg.utc <= mark:  # only a message not newer can be a repeat
            for seen in self._recent:
                if seen.utc == msg.utc and seen.topic == msg.topic and seen.payload == msg.payload:
                    self.stats.skipped[DUPLICATE] += 1
                    return False
        if mark is None or msg.utc > mark:
            self._watermark = mark = msg.utc
            while self._recent and self._recent[0].utc < mark - REORDER_TOLERANCE:
                self._recent.popleft()
        self._recent.append(msg)
        return True

    def apply_snapshot(self, snapshot: dict[str, Any], *, utc: datetime) -> Changes:
        """Start from the state the live hub returns on subscribe (joining mid-session).

        Laps completed before ``utc`` are unknown; laps are built from the next one on, numbered
        from each driver's ``NumberOfLaps``. Race control messages and weather in the snapshot are
        stored; no events are emitted for a state.
        """
        changes = Changes()
        self._quiet = True
        try:
            for topic in ("SessionInfo", "SessionStatus", "TrackStatus", "LapCount", "DriverList"):
                if isinstance(snapshot.get(topic), dict):
                    self._dispatch(topic, snapshot[topic], utc, changes)
            lines = (snapshot.get("TimingData") or {}).get("Lines")
            if isinstance(lines, dict):
                for driver, line in lines.items():
                    if isinstance(line, dict):
                        self._join_driver(str(driver), line, utc)
            for topic in ("TimingData", "TimingAppData", "RaceControlMessages", "WeatherData"):
                if isinstance(snapshot.get(topic), dict):
                    self._dispatch(topic, snapshot[topic], utc, changes)
        finally:
            self._quiet = False
        self._watermark = max(self._watermark or utc, utc)
        self._s.updated_utc = utc
        return changes

    def _join_driver(self, driver: str, line: dict[str, Any], utc: datetime) -> None:
        builder = self._builders[driver] = DriverLaps(driver)
        count, in_pit = as_int(line.get("NumberOfLaps")) or 0, bool(as_bool(line.get("InPit")))
        pit_out = utc if as_bool(line.get("PitOut")) else None  # on its out-lap: left the pit just now
        builder.join(count, in_pit, first_lap_dropped=not self._s.race_like, pit_out=pit_out)
        sectors = line.get("Sectors")
        # a third sector shown means the sectors are the previous lap's, else the lap in progress
        if (
            isinstance(sectors, list)
            and len(sectors) == 3
            and isinstance(sectors[2], dict)
            and not sectors[2].get("Value")
        ):
            builder.feed_sectors(sectors)

    def finish(self) -> Changes:
        """End of stream: every lap still closing, and each driver's unfinished lap if it counts."""
        changes = Changes()
        self._finalize_laps(None, changes)
        for driver, builder in self._builders.items():
            for draft in builder.flush(started=self._s.started_utc):
                self._emit_lap(driver, draft, changes)
        return changes

    # -- topics ----------------------------------------------------------------------------

    def _dispatch(self, topic: str, payload: dict[str, Any], utc: datetime, changes: Changes) -> None:
        if topic in LINE_TOPICS or topic == "DriverList":
            self._lines(topic, payload, utc, changes)
        elif topic == "RaceControlMessages":
            self._race_control_messages(payload, changes)
        elif topic == "WeatherData":
            self._weather_data(payload, utc, changes)
        else:
            self._states[topic] = state = merge_delta(self._states.get(topic), payload)
            for kind, key, data in self._s.update(topic, state, utc):
                self._event(changes, kind, key, utc, **data)
            if topic == "SessionInfo" and self.session_id is None:
                self.session_id = self._derive_session_id()
            changes.session = changes.tower = True

    def _lines(self, topic: str, payload: dict[str, Any], utc: datetime, changes: Changes) -> None:
        lines = payload.get("Lines") if topic != "DriverList" else payload
        if lines is None:
            self._states[topic] = merge_delta(self._states.get(topic) or {}, payload)
            return
        if not isinstance(lines, dict):
            self.stats.skipped[BAD_PAYLOAD] += 1
            return
        merged: dict[str, Any] = self._states.setdefault(topic, {})
        leader: str | None = None
        for key, line in lines.items():
            driver = str(key)
            if not isinstance(line, dict):
                if not driver.startswith("_"):  # "_kf" and friends are feed bookkeeping
                    self.stats.skipped[BAD_LINE] += 1
                continue
            merged[driver] = merge_delta(merged.get(driver), line)
            refresh = not ROW_KEYS[topic].isdisjoint(line)
            if topic == "TimingData":
                self._timing_line(driver, line, utc, changes)
                if as_int(line.get("Position")) == 1:
                    leader = driver
            elif topic == "TimingAppData" and "Stints" in line:
                stints = self._stints.setdefault(driver, DriverStints())
                builder = self._builders.get(driver)
                cap = builder.pit_laps if builder is not None and not self._quiet else None
                for stint in stints.feed(utc, line["Stints"], max_index=cap, joining=self._quiet):
                    self._correct_tyres(driver, stint, changes)
            row = self._rows.get(driver)
            if topic == "TimingData" and row is not None:
                if patch_timing(row, line, merged[driver]):
                    changes.drivers.add(driver)
                    changes.tower = True
            elif refresh:
                self._refresh_row(driver, changes)
        if leader is not None and leader != self._s.leader:
            previous, self._s.leader = self._s.leader, leader
            if previous is not None:
                self._s.leader_changes += 1
                key = f"{self._s.leader_changes:03d}_{leader}"
                self._event(
                    changes,
                    EventKind.LEADER_CHANGE,
                    key,
                    utc,
                    driver_number=leader,
                    previous=previous,
                    lap=self._s.current_lap,
                )

    def _timing_line(self, driver: str, line: dict[str, Any], utc: datetime, changes: Changes) -> None:
        builder = self._builders.get(driver)
        if builder is None:
            builder = self._builders[driver] = DriverLaps(driver)
        if self._quiet:
            return  # a snapshot line is the state so far, not deltas of the lap in progress
        for event in builder.feed(utc, line):
            self._lap_event(driver, event, builder, changes)
        if as_bool(line.get("Retired")) and not self._rows.get(driver, {}).get("retired"):
            self._event(
                changes, EventKind.RETIREMENT, driver, utc, driver_number=driver, laps=builder.api_laps
            )

    def _lap_event(self, driver: str, event: LapEvent, builder: DriverLaps, changes: Changes) -> None:
        if event.kind == "closed":
            due = builder.due()
            if due is not None and (self._next_due is None or due < self._next_due):
                self._next_due = due
        elif event.kind == "pit_in":
            key = f"{driver}_{builder.pit_entries:02d}"
            self._event(changes, EventKind.PIT_IN, key, event.utc, driver_number=driver, lap=event.lap)
        elif event.kind == "pit_out":
            key = f"{driver}_{builder.pit_exits:02d}"
            self._event(changes, EventKind.PIT_OUT, key, event.utc, driver_number=driver, lap=event.lap)

    def _refresh_row(self, driver: str, changes: Changes) -> None:
        row = driver_row(
            driver,
            self._states.get("TimingData", {}).get(driver),
            self._states.get("DriverList", {}).get(driver),
            self._stints.get(driver),
        )
        if row != self._rows.get(driver):
            self._rows[driver] = row
            changes.drivers.add(driver)
            changes.tower = True

    def _race_control_messages(self, payload: dict[str, Any], changes: Changes) -> None:
        for n, raw in race_control_entries(payload):
            if n in self._race_control:
                continue
            message = parse_race_control(self.session_id or "", n, raw)
            if message is None:
                self.stats.skipped[BAD_RACE_CONTROL] += 1
                continue
            self._race_control[n] = message
            changes.race_control.append(message)
            self._event(
                changes,
                EventKind.RACE_CONTROL,
                f"{n:04d}",
                message.utc,
                n=n,
                message=message.message,
                category=message.category,
                flag=message.flag,
                lap=message.lap,
                driver_number=message.driver_number,
            )

    def _weather_data(self, payload: dict[str, Any], utc: datetime, changes: Changes) -> None:
        self._states["WeatherData"] = state = merge_delta(self._states.get("WeatherData"), payload)
        sample = parse_weather(self.session_id or "", len(self._weather), utc, state)
        if sample is None:
            self.stats.skipped[BAD_PAYLOAD] += 1
            return
        self._weather.append(sample)
        changes.weather.append(sample)
        for kind, key, data in self._s.rain(sample.rainfall):
            self._event(changes, kind, key, utc, **data)

    # -- laps ------------------------------------------------------------------------------

    # -- events ----------------------------------------------------------------------------

    def _event(self, changes: Changes, kind: EventKind, key: str, utc: Any, **data: Any) -> None:
        if self._quiet or utc is None:
            return
        event = RaceEvent.make(self.session_id or "", kind, key, utc, **data)
        if event.event_id in self._emitted:
            return
        self._emitted.add(event.event_id)
        changes.events.append(event)

    def _derive_session_id(self) -> str | None:
        info = self._states.get("SessionInfo") or {}
        meeting = (info.get("Meeting") or {}).get("Name")
        name, start = info.get("Name"), str(info.get("StartDate") or "")
        if not isinstance(meeting, str) or not isinstance(name, str) or not start[:4].isdigit():
            return None
        try:
            return make_session_id(int(start[:4]), meeting, name)
        except BadRequestError:  # testing days and the like: no short code
            return f"{start[:4]}_{slug(meeting)}_{slug(name)}"

    # -- output ----------------------------------------------------------------------------

    def tower(self) -> TimingTower:
        s = self._s
        return build_tower(
            self._rows,
            session_id=self.session_id or "",
            updated_utc=s.updated_utc,
            session_status=s.status,
            track_status=s.track_status,
            current_lap=s.current_lap,
            total_laps=s.total_laps,
        )

    def session(self) -> SessionLive:
        return self._s.live(self.session_id or "")

    def drivers(self) -> list[DriverRow]:
        return list(self.tower().rows)

    def laps(self) -> list[Lap]:
        return list(self._laps)

    def race_control(self) -> list[RaceControlMessage]:
        return [self._race_control[n] for n in sorted(self._race_control)]

    def weather(self) -> list[WeatherSample]:
        return list(self._weather)

    @property
    def track_status(self) -> TrackStatus:
        return self._s.track_status

    # -- checkpoint ------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """Complete, JSON-serialisable state; :meth:`restore` continues from it exactly."""
        from shared.timing.checkpoint import dump

        return dump(self)

    @classmethod
    def restore(cls, data: dict[str, Any]) -> SessionReducer:
        from shared.timing.checkpoint import load

        reducer = cls(session_id=data.get("session_id"))
        load(reducer, data)
        return reducer
