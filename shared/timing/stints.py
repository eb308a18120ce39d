"""Tyre stints of one driver, from ``TimingAppData`` (``Lines[driver].Stints``).

F1 sends one entry per stint, indexed from 0 (a stint starts at each pass through the pit lane,
whether or not tyres change), and later corrections that only carry the values
that change (``TotalLaps`` every lap, sometimes ``Compound``). As FastF1 does
(``Session.__fix_tyre_info`` and the ``merge_asof`` in ``_load_laps_data``), a stint's values are
its entries merged in arrival order, and it applies from the time its *first* entry arrived: a lap
runs on the latest stint that had started when the lap was complete. Tyre age at the end of a lap
is ``StartLaps`` (laps already on the set when fitted, other sessions included) plus the laps
completed in this stint, this one included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from shared.timing.values import as_bool, as_int, as_text, entries


@dataclass
class Stint:
    index: int  # F1's stint index, from 0
    started: datetime  # when its first entry arrived
    compound: str | None = None
    new: bool | None = None
    start_laps: int | None = None
    total_laps: int | None = None
    lap_numbers: list[int] = field(default_factory=list)  # laps emitted on this stint, in order
    laps_before: int = 0  # laps run on it before a mid-session join (F1's TotalLaps - StartLaps)
    joined: bool = False  # it was running when the reducer joined mid-session

    def tyre_age(self, lap_number: int) -> int | None:
        """Laps on the set at the end of ``lap_number`` (one of :attr:`lap_numbers`)."""
        if self.start_laps is None or lap_number not in self.lap_numbers:
            return None
        return self.start_laps + self.laps_before + self.lap_numbers.index(lap_number) + 1

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["started"] = self.started.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stint:
        return cls(**{**data, "started": datetime.fromisoformat(data["started"])})


class DriverStints:
    def __init__(self) -> None:
        self.stints: dict[int, Stint] = {}

    def feed(
        self, utc: datetime, stints: Any, *, max_index: int | None = None, joining: bool = False
    ) -> list[Stint]:
        """Merge a ``Stints`` delta (list or index-keyed object); returns the stints whose tyre
        (compound, new or not, laps when fitted) changed after laps were assigned to them: F1
        corrects the tyre data of a stint minutes later, and those laps must follow."""
        corrected = []
        for raw_idx, entry in entries(stints):
            if not isinstance(entry, dict):
                continue
            # A new stint needs a pass through the pit lane; F1 sometimes counts one too many
            # (FastF1 GH#715): such entries belong to the stint in progress.
            idx = raw_idx if max_index is None else min(raw_idx, max(max_index, 0))
            stint = self.stints.get(idx)
            if stint is None:
                stint = self.stints[idx] = Stint(index=idx, started=utc)
            before = (stint.compound, stint.new, stint.start_laps, stint.laps_before)
            if (compound := as_text(entry.get("Compound"))) is not None:
                stint.compound = compound
            if (new := as_bool(entry.get("New"))) is not None:
                stint.new = new
            if (start := as_int(entry.get("StartLaps"))) is not None:
                stint.start_laps = start
            if (total := as_int(entry.get("TotalLaps"))) is not None:
                stint.total_laps = total
            if stint.total_laps is not None and stint.start_laps is not None and joining:
                stint.joined = True
                stint.laps_before = max(0, stint.total_laps - stint.start_laps)

            if stint.lap_numbers and before != (
                stint.compound,
                stint.new,
                stint.start_laps,
                stint.laps_before,
            ):
                corrected.append(stint)
        return corrected

    def at(self, utc: datetime) -> Stint | None:
        """The stint a lap completed at ``utc`` ran on: the latest started by then."""
        best: Stint | None = None
        for stint in self.stints.values():
            if stint.started <= utc and (
                best is None or (stint.started, stint.index) >= (best.started, best.index)
            ):
                best = stint
        return best

    def current(self) -> Stint | None:
        return self.stints[max(self.stints)] if self.stints else None

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.stints.values()]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> DriverStints:
        out = cls()
        for item in data:
            stint = Stint.from_json(item)
            out.stints[stint.index] = stint
        return out
