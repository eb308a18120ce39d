"""Finished laps: when a lap becomes final, what it is written as, and tyre corrections.

A mixin of :class:`~shared.timing.reducer.SessionReducer` (kept apart for size); it owns the laps
written so far and the per-lap-number order of lap ends that gives a race lap its position.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

from shared.timing.changes import Changes, ReducerStats
from shared.timing.laps import DriverLaps, LapDraft
from shared.timing.models import EventKind, Lap
from shared.timing.session import SessionState
from shared.timing.stints import DriverStints, Stint

DUPLICATE = "duplicate"


class LapOutput:
    session_id: str | None
    stats: ReducerStats
    _s: SessionState
    _builders: dict[str, DriverLaps]
    _stints: dict[str, DriverStints]
    _rows: dict[str, dict[str, Any]]
    _laps: list[Lap]
    _lap_index: dict[str, int]  # Lap.doc_id -> index in _laps
    _watermark: datetime | None
    _next_due: datetime | None

    def _event(self, changes: Changes, kind: EventKind, key: str, utc: Any, **data: Any) -> None:
        raise NotImplementedError

    def _finalize_laps(self, now: datetime | None, changes: Changes) -> None:
        """Emit every lap whose 5 s of late data are over, in the order they were completed."""
        while True:
            best: tuple[datetime, str] | None = None
            for driver, builder in self._builders.items():
                due = builder.due()
                if due is not None and (now is None or due <= now) and (best is None or due < best[0]):
                    best = (due, driver)
            if best is None:
                break
            draft = self._builders[best[1]].pop_final(now)
            if draft is not None:
                self._emit_lap(best[1], draft, changes)
        dues = [d for b in self._builders.values() if (d := b.due()) is not None]
        self._next_due = min(dues) if dues else None

    def _correct_tyres(self, driver: str, stint: Stint, changes: Changes) -> None:
        """Re-emit the laps of a stint whose tyre data F1 corrected (same document ids)."""
        for number in stint.lap_numbers:
            idx = self._lap_index.get(f"{driver}_{number:03d}")
            if idx is None:
                continue
            update = {"compound": stint.compound, "tyre_age_laps": stint.tyre_age(number)}
            lap = self._laps[idx] = self._laps[idx].model_copy(update=update)
            changes.laps = [*(old for old in changes.laps if old.doc_id != lap.doc_id), lap]

    def _emit_lap(self, driver: str, draft: LapDraft, changes: Changes) -> None:
        doc_id = f"{driver}_{draft.number:03d}"
        if doc_id in self._lap_index:
            self.stats.skipped[DUPLICATE] += 1
            return
        end = draft.end or self._watermark
        stints = self._stints.get(driver)
        stint = stints.at(end) if stints is not None and end is not None else None
        if stint is not None:
            stint.lap_numbers.append(draft.number)
        position: int | None
        if self._s.race_like:
            order = self._s.lap_order.setdefault(draft.number, [])
            stamp = end.timestamp() if end is not None else float("inf")
            position = bisect.bisect_right(order, stamp) + 1  # by lap end, as FastF1 orders them
            bisect.insort(order, stamp)
        else:
            position = self._rows.get(driver, {}).get("position")
        pit_out = draft.pit_out
        if (
            draft.number == 1
            and pit_out is not None
            and (self._s.started_utc is None or pit_out < self._s.started_utc)
        ):
            pit_out = None  # the drive from the garage to the grid
        lap = Lap(
            session_id=self.session_id or "",
            driver_number=driver,
            lap_number=draft.number,
            lap_time_ms=draft.lap_ms,
            sector_times_ms=list(draft.sectors),
            compound=stint.compound if stint else None,
            tyre_age_laps=stint.tyre_age(draft.number) if stint else None,
            stint=stint.index + 1 if stint else None,
            pit_in=draft.pit_in is not None,
            pit_out=pit_out is not None,
            position=position,
            completed_utc=draft.closed,
        )
        self._lap_index[doc_id] = len(self._laps)
        self._laps.append(lap)
        changes.laps.append(lap)
        when = draft.closed or end
        self._event(
            changes,
            EventKind.LAP_COMPLETED,
            lap.doc_id,
            when,
            driver_number=driver,
            lap=lap.lap_number,
            lap_time_ms=lap.lap_time_ms,
            position=position,
        )
        if lap.lap_time_ms is not None and (
            self._s.fastest_ms is None or lap.lap_time_ms < self._s.fastest_ms
        ):
            previous, self._s.fastest_ms = self._s.fastest_ms, lap.lap_time_ms
            self._event(
                changes,
                EventKind.FASTEST_LAP,
                lap.doc_id,
                when,
                driver_number=driver,
                lap=lap.lap_number,
                lap_time_ms=lap.lap_time_ms,
                previous_ms=previous,
            )
