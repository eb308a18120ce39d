"""Pydantic models of OpenF1's records, one per ``/v1/<endpoint>``, with OpenF1's field names.

Field names and meanings follow OpenF1's documentation (openf1.org, "API endpoints"). Times are
aware UTC datetimes (OpenF1 sends ISO 8601 with ``+00:00``); durations are seconds; speeds km/h.
Keys that identify a record (``meeting_key``, ``session_key``, ``driver_number`` where the
endpoint has one) are required; everything else may be missing or ``null``, as OpenF1 sends
``null`` for data it did not get (e.g. ``lap_duration`` of a race's first lap).

Unknown fields are kept (``extra="allow"``): OpenF1 adds fields from time to time, and a new field
must not make every row fail to parse.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict


class OpenF1Record(BaseModel):
    """Base of every OpenF1 model: frozen, extra fields kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


class _InMeeting(OpenF1Record):
    meeting_key: int


class _InSession(_InMeeting):
    session_key: int


class _DriverInSession(_InSession):
    driver_number: int


class _Place(OpenF1Record):
    """Where an event takes place (meetings and sessions share these)."""

    circuit_key: int | None = None
    circuit_short_name: str | None = None
    country_code: str | None = None
    country_key: int | None = None
    country_name: str | None = None
    location: str | None = None
    # Local time minus UTC as OpenF1 writes it ("08:00:00", "-04:00:00"): a string, not a number.
    gmt_offset: str | None = None
    year: int | None = None


class Meeting(_Place, _InMeeting):
    """``/v1/meetings``: a Grand Prix or testing weekend."""

    meeting_name: str | None = None
    meeting_official_name: str | None = None
    date_start: AwareDatetime | None = None
    date_end: AwareDatetime | None = None


class Session(_Place, _InSession):
    """``/v1/sessions``: one practice, qualifying, sprint or race session."""

    session_name: str | None = None  # "Practice 1", "Qualifying", "Race", ...
    session_type: str | None = None  # "Practice", "Qualifying", "Race", ...
    date_start: AwareDatetime | None = None
    date_end: AwareDatetime | None = None


class Driver(_DriverInSession):
    """``/v1/drivers``: a driver as entered in one session."""

    broadcast_name: str | None = None
    full_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name_acronym: str | None = None
    team_name: str | None = None
    team_colour: str | None = None  # RRGGBB hex, no "#"
    headshot_url: str | None = None
    country_code: str | None = None


class Lap(_DriverInSession):
    """``/v1/laps``: one lap of one driver. ``segments_sector_*`` are mini-sector status codes."""

    lap_number: int
    date_start: AwareDatetime | None = None
    lap_duration: float | None = None
    duration_sector_1: float | None = None
    duration_sector_2: float | None = None
    duration_sector_3: float | None = None
    i1_speed: int | None = None
    i2_speed: int | None = None
    st_speed: int | None = None
    is_pit_out_lap: bool | None = None
    segments_sector_1: list[int | None] | None = None
    segments_sector_2: list[int | None] | None = None
    segments_sector_3: list[int | None] | None = None


class Interval(_DriverInSession):
    """``/v1/intervals`` (races only, ~every 4 s): gaps in seconds, or ``"+1 LAP"`` when lapped."""

    date: AwareDatetime
    gap_to_leader: float | str | None = None
    interval: float | str | None = None


class Position(_DriverInSession):
    """``/v1/position``: a driver's position from ``date`` on (1 = leading)."""

    date: AwareDatetime
    position: int


class Pit(_DriverInSession):
    """``/v1/pit``: one pit-lane passage. ``pit_duration`` (lane time) is OpenF1's older name."""

    date: AwareDatetime
    lap_number: int | None = None
    pit_duration: float | None = None
    lane_duration: float | None = None
    stop_duration: float | None = None


class Stint(_DriverInSession):
    """``/v1/stints``: laps ``lap_start``..``lap_end`` on one set of tyres."""

    stint_number: int
    lap_start: int | None = None
    lap_end: int | None = None
    compound: str | None = None  # "SOFT", "MEDIUM", "HARD", "INTERMEDIATE", "WET"
    tyre_age_at_start: int | None = None  # laps already on the tyres


class RaceControl(_InSession):
    """``/v1/race_control``: a race-control message (flags, safety car, incidents)."""

    date: AwareDatetime
    driver_number: int | None = None
    lap_number: int | None = None
    category: str | None = None  # "Flag", "SafetyCar", "Drs", "CarEvent", "Other"
    flag: str | None = None  # "GREEN", "YELLOW", "DOUBLE YELLOW", "RED", "CHEQUERED", ...
    scope: str | None = None  # "Track", "Sector", "Driver"
    sector: int | None = None
    message: str | None = None
    qualifying_phase: int | None = None


class Weather(_InSession):
    """``/v1/weather``: track weather about once a minute. °C, %, mbar, degrees, m/s."""

    date: AwareDatetime
    air_temperature: float | None = None
    track_temperature: float | None = None
    humidity: float | None = None
    pressure: float | None = None
    rainfall: int | None = None  # 0 dry, 1 rain
    wind_direction: int | None = None
    wind_speed: float | None = None


class SessionResult(_DriverInSession):
    """``/v1/session_result``: final classification. In qualifying ``duration`` and
    ``gap_to_leader`` are lists (Q1, Q2, Q3)."""

    position: int | None = None
    number_of_laps: int | None = None
    points: float | None = None
    dnf: bool | None = None
    dns: bool | None = None
    dsq: bool | None = None
    duration: float | list[float | None] | None = None
    gap_to_leader: float | str | list[float | str | None] | None = None


class StartingGrid(_DriverInSession):
    """``/v1/starting_grid``: grid slot and the qualifying lap that set it (keyed by the
    qualifying session)."""

    position: int
    lap_duration: float | None = None


class Overtake(_InSession):
    """``/v1/overtakes``: ``overtaking_driver_number`` passed ``overtaken_driver_number`` for
    ``position``."""

    date: AwareDatetime
    overtaking_driver_number: int
    overtaken_driver_number: int
    position: int | None = None


class CarData(_DriverInSession):
    """``/v1/car_data`` (~3.7 Hz): ``brake`` 0/100, ``throttle`` %, ``drs`` FastF1's codes
    (10, 12, 14 open; 8 eligible)."""

    date: AwareDatetime
    speed: int | None = None
    rpm: int | None = None
    n_gear: int | None = None
    throttle: int | None = None
    brake: int | None = None
    drs: int | None = None


class Location(_DriverInSession):
    """``/v1/location`` (~3.7 Hz): approximate car position in the circuit's x/y/z frame."""

    date: AwareDatetime
    x: float | None = None
    y: float | None = None
    z: float | None = None


class TeamRadio(_DriverInSession):
    """``/v1/team_radio``: a radio clip."""

    date: AwareDatetime
    recording_url: str | None = None


class ChampionshipDriver(_DriverInSession):
    """``/v1/championship_drivers``: standings before (``*_start``) and after/live
    (``*_current``) the session."""

    position_start: int | None = None
    position_current: int | None = None
    points_start: float | None = None
    points_current: float | None = None


class ChampionshipTeam(_InSession):
    """``/v1/championship_teams``: constructors' standings around the session."""

    team_name: str
    position_start: int | None = None
    position_current: int | None = None
    points_start: float | None = None
    points_current: float | None = None


ENDPOINT_MODELS: dict[str, type[OpenF1Record]] = {
    "meetings": Meeting,
    "sessions": Session,
    "drivers": Driver,
    "laps": Lap,
    "intervals": Interval,
    "position": Position,
    "pit": Pit,
    "stints": Stint,
    "race_control": RaceControl,
    "weather": Weather,
    "session_result": SessionResult,
    "starting_grid": StartingGrid,
    "overtakes": Overtake,
    "car_data": CarData,
    "location": Location,
    "team_radio": TeamRadio,
    "championship_drivers": ChampionshipDriver,
    "championship_teams": ChampionshipTeam,
}

__all__ = [
    "ENDPOINT_MODELS",
    "CarData",
    "ChampionshipDriver",
    "ChampionshipTeam",
    "Driver",
    "Interval",
    "Lap",
    "Location",
    "Meeting",
    "OpenF1Record",
    "Overtake",
    "Pit",
    "Position",
    "RaceControl",
    "Session",
    "SessionResult",
    "StartingGrid",
    "Stint",
    "TeamRadio",
    "Weather",
]
