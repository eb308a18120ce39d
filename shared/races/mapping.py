"""Travel-app races -> OpenF1 meeting and race session, pure (no Firestore, no HTTP).

A travel-app race (:class:`TravelRace`) names its circuit and its *local* race day. It matches the
OpenF1 meeting of its season whose Race session (``session_name == "Race"``; a Sprint also has
``session_type == "Race"`` and is not it) starts on that local day, give or take one day (a travel
app may have written the UTC day, or the day in its user's zone), at the same circuit
(:mod:`shared.races.places`). OpenF1 gives UTC instants and the meeting's ``gmt_offset``; the
local day is ``date_start + gmt_offset``.

When nothing matches, the reason is one of (stored as ``unmapped_reason``)::

    no OpenF1 meeting in <season>
    no meeting on <date> at <circuit>[; that day: <meeting> at <location>]
    meeting has no Race session (meeting <key>)
    ambiguous: meetings <key>, <key> on <date> at <circuit>
    meeting already mapped to <race_id>          (from :func:`assign`: meeting keys are unique)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.openf1.models import Meeting, Session
from shared.races.places import openf1_keys, race_keys

TOLERANCE = timedelta(days=1)
# A meeting with no end date is taken to last from its first day to three days later (Fri-Mon).
_DEFAULT_SPAN = timedelta(days=3)
_OFFSET = re.compile(r"^([+-])?(\d{1,2}):(\d{2})(?::(\d{2}))?$")
RACE_SESSION_NAME = "race"


class TravelRace(BaseModel):
    """A race as the travel app stores it in ``races/{race_id}``: its own id, circuit, local day."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    race_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    name: str = Field(min_length=1)
    circuit: str = Field(min_length=1)  # a circuit name or id ("Marina Bay Street Circuit", "marina_bay")
    date: date  # the race day, local to the circuit
    country: str | None = None
    location: str | None = None
    season: int | None = Field(None, ge=1950, le=2100)

    @field_validator("date", mode="before")
    @classmethod
    def _local_day(cls, value: Any) -> Any:
        """A date-time (ISO text or a timestamp) counts by the day as written: it is the local day."""
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
            return value[:10]
        return value

    @property
    def effective_season(self) -> int:
        return self.season if self.season is not None else self.date.year

    def app_fields(self) -> dict[str, Any]:
        """The travel app's own fields as stored (the date as ISO text)."""
        return self.model_dump(mode="json", exclude_none=True)

    def fingerprint(self) -> str:
        """A short hash of what the mapping depends on: a new one means the race must be re-mapped."""
        basis = [self.circuit, self.date.isoformat(), self.country, self.location, self.effective_season]
        return hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Candidate:
    """One OpenF1 meeting as the matcher sees it; days are local to the circuit."""

    meeting_key: int
    year: int
    name: str
    location: str
    places: frozenset[str]
    first_day: date
    last_day: date
    race_session_key: int | None = None
    race_day: date | None = None


@dataclass(frozen=True)
class Match:
    """The keys of a mapped race, or the reason it is unmapped."""

    meeting_key: int | None = None
    session_key: int | None = None
    reason: str | None = None

    @property
    def mapped(self) -> bool:
        return self.meeting_key is not None and self.session_key is not None

    @property
    def status(self) -> str:
        return "mapped" if self.mapped else "unmapped"


def unmapped(reason: str) -> Match:
    return Match(reason=reason)


def parse_gmt_offset(text: str | None) -> timedelta:
    """OpenF1's ``gmt_offset`` ("08:00:00", "-04:00:00") as a timedelta; missing or odd -> zero."""
    found = _OFFSET.match(text.strip()) if text else None
    if found is None:
        return timedelta(0)
    sign, hours, minutes, seconds = found.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    return -delta if sign == "-" else delta


def local_day(instant: datetime, gmt_offset: str | None) -> date:
    """The circuit's calendar day at ``instant`` (UTC) given OpenF1's ``gmt_offset``."""
    return (instant + parse_gmt_offset(gmt_offset)).date()


def candidates(meetings: Iterable[Meeting], sessions: Iterable[Session]) -> list[Candidate]:
    """One candidate per dated meeting, with its Race session if OpenF1 has one."""
    races: dict[int, Session] = {}
    for s in sessions:
        if (s.session_name or "").strip().lower() != RACE_SESSION_NAME or s.date_start is None:
            continue
        known = races.get(s.meeting_key)
        if known is None or (known.date_start is not None and s.date_start > known.date_start):
            races[s.meeting_key] = s
    out: list[Candidate] = []
    for m in meetings:
        if m.date_start is None:
            continue
        first = local_day(m.date_start, m.gmt_offset)
        last = local_day(m.date_end, m.gmt_offset) if m.date_end else first + _DEFAULT_SPAN
        race = races.get(m.meeting_key)
        race_day = None
        if race is not None and race.date_start is not None:
            race_day = local_day(race.date_start, race.gmt_offset or m.gmt_offset)
        names = (m.circuit_short_name, m.location, m.country_name, m.meeting_name)
        out.append(
            Candidate(
                meeting_key=m.meeting_key,
                year=m.year or m.date_start.year,
                name=m.meeting_name or f"meeting {m.meeting_key}",
                location=m.location or m.circuit_short_name or "?",
                places=openf1_keys(names),
                first_day=first,
                last_day=max(last, race_day) if race_day else last,
                race_session_key=race.session_key if race else None,
                race_day=race_day,
            )
        )
    return out


def _place_score(race: TravelRace, cand: Candidate) -> int:
    """2: the circuit or location names this meeting's venue; 1: only the country does; 0: no."""
    if (race_keys(race.circuit) | race_keys(race.location)) & cand.places:
        return 2
    return 1 if race_keys(race.country) & cand.places else 0


def match_race(race: TravelRace, meetings: Sequence[Candidate]) -> Match:
    """The meeting and Race session of ``race`` among ``meetings``, or why there is none."""
    season = race.effective_season
    in_season = [m for m in meetings if m.year == season]
    if not in_season:
        return unmapped(f"no OpenF1 meeting in {season}")
    scored = [(m, _place_score(race, m)) for m in in_season]
    on_day = [
        (m, score)
        for m, score in scored
        if score and m.race_day is not None and abs(m.race_day - race.date) <= TOLERANCE
    ]
    if on_day:
        best = max(score for _, score in on_day)
        top = [m for m, score in on_day if score == best]
        if len(top) > 1:
            exact = [m for m in top if m.race_day == race.date]
            top = exact if len(exact) == 1 else top
        if len(top) == 1:
            return Match(meeting_key=top[0].meeting_key, session_key=top[0].race_session_key)
        keys = ", ".join(str(m.meeting_key) for m in sorted(top, key=lambda m: m.meeting_key))
        return unmapped(f"ambiguous: meetings {keys} on {race.date} at {race.circuit}")
    no_race = [
        m
        for m, score in scored
        if score
        and m.race_session_key is None
        and m.first_day - TOLERANCE <= race.date <= m.last_day + TOLERANCE
    ]
    if no_race:
        keys = ", ".join(str(m.meeting_key) for m in sorted(no_race, key=lambda m: m.meeting_key))
        return unmapped(f"meeting has no Race session (meeting {keys})")
    reason = f"no meeting on {race.date} at {race.circuit}"
    that_day = [m for m in in_season if m.race_day is not None and abs(m.race_day - race.date) <= TOLERANCE]
    if that_day:
        reason += "; that day: " + ", ".join(f"{m.name} at {m.location}" for m in that_day)
    return unmapped(reason)


def assign(matches: Mapping[str, Match], claims: Mapping[int, str]) -> dict[str, Match]:
    """Make meeting keys unique: each meeting goes to one race; the others get the reason.

    ``matches`` are this run's results by race id; ``claims`` maps meeting keys to the race that
    holds them (the reverse index). A claim by a race of this run that now matches another meeting
    is released. A race keeps a meeting it already holds; otherwise free meetings go to races in
    race-id order, so the outcome does not depend on input order.
    """
    taken = {
        key: owner
        for key, owner in claims.items()
        if owner not in matches or matches[owner].meeting_key == key
    }
    out: dict[str, Match] = {}
    for race_id in sorted(matches):
        match = matches[race_id]
        if not match.mapped or match.meeting_key is None:
            out[race_id] = match
            continue
        owner = taken.setdefault(match.meeting_key, race_id)
        out[race_id] = match if owner == race_id else unmapped(f"meeting already mapped to {owner}")
    return out
