"""One session's state built from OpenF1 records, with the read interface of the live reducer.

:class:`OpenF1State` is to OpenF1 what :class:`~shared.timing.reducer.SessionReducer` is to the
live-timing feed: records go in (:meth:`OpenF1State.apply_records`, one endpoint's response at a
time, in any order, repeated records harmless), :class:`~shared.timing.changes.Changes` come out,
and ``laps()``, ``drivers()``, ``tower()``, ``session()``, ``race_control()``, ``weather()`` give
the documents of ``shared.timing.models`` (laps with ``source="openf1"``), so the same
``SessionWriter`` stores them under the same ids.

* Records are kept by identity (a lap by driver and number, a position by driver and date...):
  applying a response twice, or overlapping responses, changes nothing. A lap is final once it has
  a ``lap_duration``, the driver's next lap exists, or :meth:`finish` says the session is over;
  a final lap is emitted again (same id) when a later record changes it (a position or stint that
  arrived after the lap).
* Race control messages and weather samples are numbered in order of first sight (within one
  response, by date), so their ids stay stable as polls add newer ones.
* Events (same keys as the live reducer's): ``lap_completed`` ``<driver>_<lap:03d>``, ``pit_in``
  ``<driver>_<k:02d>`` (k-th pit entry), ``race_control`` ``<n:04d>``; each at most once.
* :meth:`watermark` is where the next poll of an endpoint starts (see ``INCREMENTAL``).
* :meth:`checkpoint` / :meth:`restore`: the kept records as JSON (heavy fields left out).

Pure domain logic: no I/O, no clients.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from shared.errors import BadRequestError
from shared.ids import session_id as make_session_id
from shared.ids import slug
from shared.openf1 import derive
from shared.openf1 import models as of1
from shared.openf1.merge import fill_missing
from shared.openf1.parse import parse
from shared.timing.changes import Changes
from shared.timing.models import (
    DriverRow,
    EventKind,
    Lap,
    RaceControlMessage,
    RaceEvent,
    SessionLive,
    TimingTower,
    WeatherSample,
)

# Endpoints polled by date, with their date field; the others are small and fetched whole.
INCREMENTAL = {"laps": "date_start", "pit": "date", "position": "date", "intervals": "date"}
INCREMENTAL |= {"race_control": "date", "weather": "date"}
# Laps last: a lap is built from the stints, pits and positions already known.
POLL_ORDER: tuple[str, ...] = ("sessions", "meetings", "drivers", "stints", "pit", "position", "intervals")
POLL_ORDER += ("race_control", "weather", "laps")
# A driver's last lap without a duration stops holding the laps watermark back after this long
# behind the newest lap start (a retired car's last lap is never completed).
OPEN_LAP_LIMIT = timedelta(minutes=10)
OTHER_SESSION = "other_session"


class OpenF1State:
    """See the module docstring. ``session_id`` may be given; else it comes from ``/sessions``
    and ``/meetings`` (``<year>_<meeting slug>_<code>``, as every source names it)."""

    def __init__(self, *, session_key: int, session_id: str | None = None) -> None:
        self.session_key = session_key
        self._given_id = session_id
        self.records = 0
        self.skipped: Counter[str] = Counter()
        self.finished = False
        self._session: of1.Session | None = None
        self._meeting: of1.Meeting | None = None
        self._drivers: dict[str, of1.Driver] = {}
        self._laps: dict[str, dict[int, of1.Lap]] = {}
        self._stints: dict[str, dict[int, of1.Stint]] = {}
        self._pits: dict[str, dict[datetime, of1.Pit]] = {}
        self._positions: dict[str, dict[datetime, int]] = {}
        self._intervals: dict[str, of1.Interval] = {}
        self._rc: dict[tuple[datetime, str], RaceControlMessage] = {}
        self._rc_raw: list[of1.RaceControl] = []
        self._weather: dict[datetime, WeatherSample] = {}
        self._weather_raw: list[of1.Weather] = []
        self._marks: dict[str, datetime] = {}
        self._out_laps: dict[str, Lap] = {}
        self._rows: dict[str, DriverRow] = {}
        self._live: SessionLive | None = None
        self._emitted: set[str] = set()
        self._base: tuple[SessionLive | None, TimingTower | None, bool] = (None, None, True)

    @property
    def session_id(self) -> str | None:
        if self._given_id:
            return self._given_id
        s, m = self._session, self._meeting
        if s is None or m is None or not s.session_name or not m.meeting_name:
            return None
        year = m.year or s.year or (s.date_start.year if s.date_start else None)
        if year is None:
            return None
        try:
            return make_session_id(year, m.meeting_name, s.session_name)
        except BadRequestError:  # testing days and the like: no short code
            return f"{year}_{slug(m.meeting_name)}_{slug(s.session_name)}"

    @property
    def meeting_key(self) -> int | None:
        return self._session.meeting_key if self._session is not None else None

    # -- input -----------------------------------------------------------------------------

    def apply_records(self, endpoint: str, records: list[Any]) -> Changes:
        """Keep the records of one ``/v1/<endpoint>`` response; returns what changed."""
        parsed = parse(endpoint, records)
        self.records += len(records)
        self.skipped["bad_row"] += parsed.skipped_count
        for rec in parsed.items:
            if getattr(rec, "session_key", self.session_key) == self.session_key or endpoint == "meetings":
                self._keep(endpoint, rec)
            elif endpoint != "sessions":  # /sessions of a meeting lists its other sessions too
                self.skipped[OTHER_SESSION] += 1
        if endpoint == "race_control":
            self._number_race_control()
        elif endpoint == "weather":
            self._number_weather()
        return self._refresh()

    def finish(self) -> Changes:
        """The session is over: every lap OpenF1 has is final."""
        self.finished = True
        return self._refresh()

    def _keep(self, endpoint: str, rec: Any) -> None:
        field = INCREMENTAL.get(endpoint)
        when = getattr(rec, field, None) if field else None
        if isinstance(when, datetime) and (endpoint not in self._marks or when > self._marks[endpoint]):
            self._marks[endpoint] = when
        if isinstance(rec, of1.Session):
            self._session = rec
        elif isinstance(rec, of1.Meeting):
            if self._session is None or rec.meeting_key == self._session.meeting_key:
                self._meeting = rec
        elif isinstance(rec, of1.Driver):
            self._drivers[str(rec.driver_number)] = rec
        elif isinstance(rec, of1.Lap):
            self._laps.setdefault(str(rec.driver_number), {})[rec.lap_number] = rec
        elif isinstance(rec, of1.Stint):
            self._stints.setdefault(str(rec.driver_number), {})[rec.stint_number] = rec
        elif isinstance(rec, of1.Pit):
            self._pits.setdefault(str(rec.driver_number), {})[rec.date] = rec
        elif isinstance(rec, of1.Position):
            self._positions.setdefault(str(rec.driver_number), {})[rec.date] = rec.position
        elif isinstance(rec, of1.Interval):
            old = self._intervals.get(str(rec.driver_number))
            if old is None or rec.date >= old.date:
                self._intervals[str(rec.driver_number)] = rec
        elif isinstance(rec, of1.RaceControl):
            self._rc_raw.append(rec)
        elif isinstance(rec, of1.Weather):
            self._weather_raw.append(rec)

    def _number_race_control(self) -> None:
        fresh = sorted(
            {
                (r.date, r.message or ""): r
                for r in self._rc_raw
                if (r.date, r.message or "") not in self._rc
            }.items()
        )
        self._rc_raw = []
        for key, rec in fresh:
            msg = derive.race_control(self.session_id or "", len(self._rc), rec)
            if msg is None:
                self.skipped["bad_race_control"] += 1
                continue
            self._rc[key] = msg

    def _number_weather(self) -> None:
        fresh = sorted({w.date: w for w in self._weather_raw if w.date not in self._weather}.items())
        self._weather_raw = []
        for when, rec in fresh:
            self._weather[when] = derive.weather(self.session_id or "", len(self._weather), rec)

    # -- derived documents -------------------------------------------------------------------

    def _refresh(self) -> Changes:
        changes = Changes()
        sid = self.session_id
        if not sid:
            return changes
        for msg in self.race_control():
            if msg.session_id != sid:  # numbered before the session id was known
                self._rc = {k: m.model_copy(update={"session_id": sid}) for k, m in self._rc.items()}
                break
        for when, sample in list(self._weather.items()):
            if sample.session_id != sid:
                self._weather[when] = sample.model_copy(update={"session_id": sid})
        for msg in self.race_control():
            self._event(changes, EventKind.RACE_CONTROL, f"{msg.n:04d}", msg.utc, race_control=msg)
        for driver, pits in self._pits.items():
            for k, pit in enumerate(sorted(pits.values(), key=lambda p: p.date), start=1):
                data = {"driver_number": driver, "lap": pit.lap_number}
                self._event(changes, EventKind.PIT_IN, f"{driver}_{k:02d}", pit.date, **data)
        self._refresh_laps(sid, changes)
        rows = {number: self._row(number) for number in self._numbers()}
        for number, row in rows.items():
            if self._rows.get(number) != row:
                changes.drivers.add(number)
                changes.tower = True
        self._rows = rows
        live = self._session_live(sid)
        if live != self._live:
            self._live = live
            changes.session = changes.tower = True
        return changes

    def _refresh_laps(self, sid: str, changes: Changes) -> None:
        for driver, by_number in self._laps.items():
            numbers = sorted(by_number)
            stints = list(self._stints.get(driver, {}).values())
            pit_laps = {p.lap_number for p in self._pits.get(driver, {}).values() if p.lap_number is not None}
            positions = sorted(self._positions.get(driver, {}).items())
            for i, number in enumerate(numbers):
                rec = by_number[number]
                nxt = by_number[numbers[i + 1]] if i + 1 < len(numbers) else None
                if nxt is None and rec.lap_duration is None and not self.finished:
                    continue  # the lap in progress
                lap = derive.to_lap(
                    sid, rec, next_lap=nxt, stints=stints, pit_laps=pit_laps, positions=positions
                )
                if self._out_laps.get(lap.doc_id) == lap:
                    continue
                self._out_laps[lap.doc_id] = lap
                changes.laps.append(lap)
                data = {"driver_number": driver, "lap": number, "lap_time_ms": lap.lap_time_ms}
                when = lap.completed_utc
                self._event(changes, EventKind.LAP_COMPLETED, lap.doc_id, when, **data, position=lap.position)

    def _numbers(self) -> list[str]:
        numbers = set(self._drivers) | set(self._laps) | set(self._positions)
        return sorted(numbers, key=lambda n: (len(n), n))

    def _row(self, number: str) -> DriverRow:
        laps = sorted(
            (lap for lap in self._out_laps.values() if lap.driver_number == number),
            key=lambda x: x.lap_number,
        )
        history = self._positions.get(number, {})
        stints = self._stints.get(number, {})
        return derive.driver_row(
            number,
            driver=self._drivers.get(number),
            laps=laps,
            position=history[max(history)] if history else None,
            interval=self._intervals.get(number),
            pit_stops=len(self._pits.get(number, {})),
            stint=stints[max(stints)] if stints else None,
        )

    def _session_live(self, sid: str) -> SessionLive:
        s, m = self._session, self._meeting
        started = bool(self._laps) or bool(self._positions)
        marks = list(self._marks.values())
        return SessionLive(
            session_id=sid,
            meeting_name=m.meeting_name if m else None,
            session_name=s.session_name if s else None,
            session_type=s.session_type if s else None,
            f1_session_key=self.session_key,
            status="Finished" if self.finished else ("Started" if started else None),
            current_lap=max((max(laps) for laps in self._laps.values() if laps), default=None),
            started_utc=s.date_start if s else None,
            updated_utc=max(marks) if marks else None,
        )

    def _event(self, changes: Changes, kind: EventKind, key: str, utc: datetime | None, **data: Any) -> None:
        if utc is None:
            return
        if kind is EventKind.RACE_CONTROL:
            msg: RaceControlMessage = data.pop("race_control")
            data = {"n": msg.n, "message": msg.message, "category": msg.category, "flag": msg.flag}
            data |= {"lap": msg.lap, "driver_number": msg.driver_number}
        event = RaceEvent.make(self.session_id or "", kind, key, utc, **data)
        if event.event_id not in self._emitted:
            self._emitted.add(event.event_id)
            changes.events.append(event)

    # -- output (the SessionReducer read interface) ------------------------------------------

    def set_base(self, *, session: SessionLive | None, tower: TimingTower | None, prefer_base: bool) -> None:
        """Stored listened documents to merge with (``shared.openf1.merge``): ``prefer_base``
        keeps every stored value (a finished session's import); else OpenF1's values win and
        the stored ones only fill OpenF1's gaps (OpenF1 is the live source)."""
        self._base = (session, tower, prefer_base)

    def _merged(self, ours: Any, stored: Any) -> Any:
        if stored is None:
            return ours
        return fill_missing(stored, ours) if self._base[2] else fill_missing(ours, stored)

    def session(self) -> SessionLive:
        live = self._live or SessionLive(session_id=self.session_id or "")
        merged: SessionLive = self._merged(live, self._base[0])
        return merged

    def drivers(self) -> list[DriverRow]:
        stored = {row.driver_number: row for row in (self._base[1].rows if self._base[1] else [])}
        rows = [self._merged(row, stored.get(n)) for n, row in self._rows.items()]
        rows += [row for n, row in stored.items() if n not in self._rows]
        return sorted(rows, key=lambda r: (r.position or 999, len(r.driver_number), r.driver_number))

    def tower(self) -> TimingTower:
        live = self.session()
        ours = TimingTower(
            session_id=self.session_id or "",
            updated_utc=live.updated_utc,
            session_status=live.status,
            current_lap=live.current_lap,
            total_laps=live.total_laps,
        )
        merged: TimingTower = self._merged(ours, self._base[1])
        return merged.model_copy(update={"rows": self.drivers()})

    def laps(self) -> list[Lap]:
        return sorted(
            self._out_laps.values(), key=lambda x: (x.lap_number, len(x.driver_number), x.driver_number)
        )

    def race_control(self) -> list[RaceControlMessage]:
        return sorted(self._rc.values(), key=lambda m: m.n)

    def weather(self) -> list[WeatherSample]:
        return sorted(self._weather.values(), key=lambda w: w.n)

    # -- polling -----------------------------------------------------------------------------

    def watermark(self, endpoint: str) -> datetime | None:
        """The earliest date the next poll of ``endpoint`` must ask for (``None``: everything).

        Dated endpoints: the newest date seen. Laps: the start of the oldest lap that may still
        change (each driver's last lap while it has no duration, for up to ``OPEN_LAP_LIMIT``).
        """
        if endpoint != "laps":
            return self._marks.get(endpoint) if endpoint in INCREMENTAL else None
        newest = self._marks.get("laps")
        if newest is None:
            return None
        open_starts = [
            last.date_start
            for by_number in self._laps.values()
            if (last := by_number[max(by_number)]).lap_duration is None
            and last.date_start is not None
            and newest - last.date_start <= OPEN_LAP_LIMIT
        ]
        return min([newest, *open_starts])

    def checkpoint(self) -> dict[str, Any]:
        """Every kept record as JSON (see :mod:`shared.openf1.snapshot`)."""
        from shared.openf1.snapshot import dump

        return dump(self)

    @classmethod
    def restore(cls, data: dict[str, Any]) -> OpenF1State:
        """The state :meth:`checkpoint` saved; what it had emitted is not emitted again."""
        from shared.openf1.snapshot import load

        return load(cls, data)
