"""The matcher over six real seasons: every 2018-2023 race of the Ergast history, named only by its
circuit (full name, then circuit id), finds its own event among the f1schedule events of its season
dressed as OpenF1 meetings (F1's own location, country and event names, local times and offsets).

Reads ``../shared/data/history`` and ``../shared/data/f1schedule`` in place (skipped without them).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest

from shared.openf1.models import Meeting, Session
from shared.races.mapping import Candidate, Match, TravelRace, candidates, match_race

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SEASONS = range(2018, 2024)
pytestmark = pytest.mark.skipif(
    not (DATA / "history").is_dir() or not (DATA / "f1schedule").is_dir(), reason="no recorded data"
)


@cache
def schedule_candidates(year: int) -> list[Candidate]:
    """f1schedule's events of ``year`` as OpenF1 meetings (key ``year*100 + round``) and sessions."""
    table = json.loads((DATA / "f1schedule" / f"schedule_{year}.json").read_text(encoding="utf-8"))
    meetings, sessions = [], []
    for row in table["round_number"]:
        rnd, offset = table["round_number"][row], table["gmt_offset"][row]
        slots = [(table[f"session{n}"][row], table[f"session{n}_date"][row]) for n in range(1, 6)]
        starts = [datetime.fromisoformat(f"{local}{offset}") for _, local in slots if local]
        if not starts:
            continue
        key = year * 100 + rnd
        meetings.append(
            Meeting(
                meeting_key=key, meeting_name=table["event_name"][row], location=table["location"][row],
                country_name=table["country"][row], gmt_offset=offset, year=year,
                date_start=min(starts), date_end=max(starts),
            )
        )  # fmt: skip
        for n, (name, local) in enumerate(slots):
            if name and local:
                start = datetime.fromisoformat(f"{local}{offset}")
                sessions.append(
                    Session(meeting_key=key, session_key=key * 10 + n, session_name=name,
                            date_start=start, gmt_offset=offset, year=year)
                )  # fmt: skip
    return candidates(meetings, sessions)


def history_races() -> list[tuple[int, int, str, str, str]]:
    """(year, round, date, circuit name, circuit id) of every race in ``SEASONS``."""
    with (DATA / "history" / "circuits.csv").open(encoding="utf-8") as f:
        circuits = {row["circuitId"]: row for row in csv.DictReader(f)}
    with (DATA / "history" / "races.csv").open(encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if int(row["year"]) in SEASONS]
    return [
        (int(r["year"]), int(r["round"]), r["date"], circuits[r["circuitId"]]["name"],
         circuits[r["circuitId"]]["circuitRef"])
        for r in rows
    ]  # fmt: skip


def test_every_race_of_six_seasons_finds_its_own_event() -> None:
    races = history_races()
    assert len(races) > 110
    wrong = []
    for year, rnd, day, name, ref in races:
        for circuit in (name, ref):
            race = TravelRace.model_validate(
                {"race_id": "r", "name": "GP", "circuit": circuit, "date": day, "season": year}
            )
            got = match_race(race, schedule_candidates(year))
            if got != Match(year * 100 + rnd, (year * 100 + rnd) * 10 + 4):
                wrong.append(f"{year} round {rnd} {circuit!r}: {got}")
    assert not wrong, "\n".join(wrong)
