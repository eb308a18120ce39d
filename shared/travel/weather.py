"""This weekend's weather in past years, by session (pure logic).

Input: the weather samples (about one a minute, ``sessions/{id}/weather``) of the sessions held
at the same circuit in earlier seasons, whether the live feed, a replay or an import wrote them.
Per session kind (``fp1`` ... ``r``): the range of air and track temperature (deg C) over every
sample of every year, the mean of the yearly means, and the share of sessions in which rain fell
(any sample with ``rainfall``). A session with no samples counts for nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean

from pydantic import BaseModel, ConfigDict, Field

from shared.timing.models import WeatherSample
from shared.travel.weekend import F1_CODES


@dataclass(frozen=True)
class PastSession:
    year: int
    code: str
    name: str
    samples: list[WeatherSample]


class Range(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    min: float | None = None
    max: float | None = None
    mean: float | None = Field(default=None, description="mean of the yearly means")


class SessionWeather(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    code: str
    name: str
    years: list[int] = Field(description="seasons with samples for this session")
    sessions_with_rain: int
    rain_share: float = Field(ge=0, le=1, description="share of those sessions with rain")
    air_temp_c: Range
    track_temp_c: Range


class WeekendWeather(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    meeting_id: str
    circuit_id: str
    years: list[int] = Field(description="seasons with any weather data at this circuit")
    sessions: list[SessionWeather]


def _range(per_year: list[list[float]]) -> Range:
    values = [v for year in per_year for v in year]
    if not values:
        return Range()
    means = [fmean(year) for year in per_year if year]
    return Range(min=min(values), max=max(values), mean=round(fmean(means), 1))


def _order(code: str) -> int:
    return F1_CODES.index(code) if code in F1_CODES else len(F1_CODES)


def weekend_weather(meeting_id: str, circuit_id: str, past: Iterable[PastSession]) -> WeekendWeather:
    by_code: dict[str, list[PastSession]] = defaultdict(list)
    for p in past:
        if p.samples:
            by_code[p.code].append(p)
    sessions = []
    for code in sorted(by_code, key=_order):
        held = sorted(by_code[code], key=lambda p: p.year)
        rainy = sum(1 for p in held if any(s.rainfall for s in p.samples))
        air = [[s.air_temp_c for s in p.samples if s.air_temp_c is not None] for p in held]
        track = [[s.track_temp_c for s in p.samples if s.track_temp_c is not None] for p in held]
        sessions.append(
            SessionWeather(
                code=code,
                name=held[-1].name,
                years=[p.year for p in held],
                sessions_with_rain=rainy,
                rain_share=round(rainy / len(held), 3),
                air_temp_c=_range(air),
                track_temp_c=_range(track),
            )
        )
    years = sorted({y for s in sessions for y in s.years})
    return WeekendWeather(meeting_id=meeting_id, circuit_id=circuit_id, years=years, sessions=sessions)
