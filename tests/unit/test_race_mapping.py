"""Race mapping, pure: names and aliases, local days across midnight UTC, ambiguity, uniqueness."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.openf1.models import Meeting, Session
from shared.races.mapping import (
    Candidate,
    Match,
    TravelRace,
    assign,
    candidates,
    local_day,
    match_race,
    parse_gmt_offset,
)
from shared.races.places import openf1_keys, place_key, race_keys

# (travel-app circuit, OpenF1 circuit_short_name, location, country_name) for the 2024 venues.
VENUES_2024 = [
    ("Bahrain International Circuit", "Sakhir", "Sakhir", "Bahrain"),
    ("Jeddah Corniche Circuit", "Jeddah", "Jeddah", "Saudi Arabia"),
    ("Albert Park Grand Prix Circuit", "Melbourne", "Melbourne", "Australia"),
    ("Suzuka Circuit", "Suzuka", "Suzuka", "Japan"),
    ("Shanghai International Circuit", "Shanghai", "Shanghai", "China"),
    ("Miami International Autodrome", "Miami", "Miami", "United States"),
    ("Autodromo Enzo e Dino Ferrari", "Imola", "Imola", "Italy"),
    ("Circuit de Monaco", "Monte Carlo", "Monaco", "Monaco"),
    ("Circuit Gilles Villeneuve", "Montreal", "Montréal", "Canada"),
    ("Circuit de Barcelona-Catalunya", "Catalunya", "Barcelona", "Spain"),
    ("Red Bull Ring", "Spielberg", "Spielberg", "Austria"),
    ("Silverstone Circuit", "Silverstone", "Silverstone", "United Kingdom"),
    ("Hungaroring", "Hungaroring", "Budapest", "Hungary"),
    ("Circuit de Spa-Francorchamps", "Spa-Francorchamps", "Spa-Francorchamps", "Belgium"),
    ("Circuit Park Zandvoort", "Zandvoort", "Zandvoort", "Netherlands"),
    ("Autodromo Nazionale di Monza", "Monza", "Monza", "Italy"),
    ("Baku City Circuit", "Baku", "Baku", "Azerbaijan"),
    ("Marina Bay Street Circuit", "Singapore", "Marina Bay", "Singapore"),
    ("Circuit of the Americas", "Austin", "Austin", "United States"),
    ("Autódromo Hermanos Rodríguez", "Mexico City", "Mexico City", "Mexico"),
    ("Autódromo José Carlos Pace", "Interlagos", "São Paulo", "Brazil"),
    ("Las Vegas Strip Street Circuit", "Las Vegas", "Las Vegas", "United States"),
    ("Losail International Circuit", "Lusail", "Lusail", "Qatar"),
    ("Yas Marina Circuit", "Yas Marina Circuit", "Yas Island", "United Arab Emirates"),
]
# Ergast/Jolpica circuit ids, as a travel app fed from Jolpica would write them.
ERGAST_IDS = [
    "bahrain", "jeddah", "albert_park", "suzuka", "shanghai", "miami", "imola", "monaco", "villeneuve",
    "catalunya", "red_bull_ring", "silverstone", "hungaroring", "spa", "zandvoort", "monza", "baku",
    "marina_bay", "americas", "rodriguez", "interlagos", "vegas", "losail", "yas_marina",
]  # fmt: skip


def race(circuit: str = "Marina Bay", day: str = "2024-09-22", **extra: object) -> TravelRace:
    return TravelRace.model_validate(
        {"race_id": "r1", "name": "GP", "circuit": circuit, "date": day, **extra}
    )


def cand(
    key: int, *names: str, race_day: str | None = "2024-09-22", year: int = 2024, session: int | None = None
) -> Candidate:
    day = date.fromisoformat(race_day) if race_day else date(year, 9, 20)
    return Candidate(
        meeting_key=key,
        year=year,
        name=f"meeting {key}",
        location=names[0] if names else "?",
        places=openf1_keys(names),
        first_day=day - timedelta(days=2),
        last_day=day,
        race_session_key=(session or key * 10) if race_day else None,
        race_day=date.fromisoformat(race_day) if race_day else None,
    )


@pytest.mark.parametrize(("travel", "short", "location", "country"), VENUES_2024)
def test_every_2024_venue_name_meets_openf1s_names(
    travel: str, short: str, location: str, country: str
) -> None:
    assert race_keys(travel) & openf1_keys([short, location, country])


@pytest.mark.parametrize(("ergast_id", "venue"), list(zip(ERGAST_IDS, VENUES_2024, strict=True)))
def test_ergast_circuit_ids_meet_openf1s_names(ergast_id: str, venue: tuple[str, str, str, str]) -> None:
    assert race_keys(ergast_id) & openf1_keys(venue[1:])


def test_known_aliases_fold_to_one_key() -> None:
    assert place_key("Marina Bay") == place_key("Singapore") == "singapore"
    assert place_key("Yas Marina") == place_key("Abu Dhabi") == place_key("Yas Island") == "abu_dhabi"
    assert place_key("Baku") == place_key("Azerbaijan")
    assert place_key("Autódromo José Carlos Pace") == place_key("São Paulo")


def test_a_country_with_several_races_is_no_venue() -> None:
    assert not race_keys("United Kingdom") & openf1_keys(["United States"])
    assert place_key("Italy") not in {place_key("Monza"), place_key("Imola")}


def test_singapore_maps_to_its_meeting_and_race_session() -> None:
    pool = [cand(1246, "Singapore", "Marina Bay", "Singapore", session=9606)]
    assert match_race(race("Marina Bay Street Circuit"), pool) == Match(1246, 9606)
    assert match_race(race("marina_bay"), pool) == Match(1246, 9606)


def test_unknown_season_and_unknown_place_give_reasons() -> None:
    pool = [cand(1246, "Singapore", "Marina Bay", "Singapore")]
    assert match_race(race(day="2031-09-21"), pool).reason == "no OpenF1 meeting in 2031"
    reason = match_race(race("Poseidon Harbour", day="2024-09-21"), pool).reason
    assert reason == "no meeting on 2024-09-21 at Poseidon Harbour; that day: meeting 1246 at Singapore"
    far = match_race(race("Marina Bay", day="2024-03-02"), pool).reason
    assert far == "no meeting on 2024-03-02 at Marina Bay"


def test_the_race_day_may_be_one_day_off_but_not_two() -> None:
    pool = [cand(1246, "Singapore")]
    assert match_race(race(day="2024-09-21"), pool).mapped
    assert match_race(race(day="2024-09-23"), pool).mapped
    assert not match_race(race(day="2024-09-24"), pool).mapped


def test_local_day_across_midnight_utc() -> None:
    # Las Vegas 2024: the race starts 2024-11-24T06:00Z, 22:00 on the 23rd local (UTC-8).
    start = datetime.fromisoformat("2024-11-24T06:00:00+00:00")
    assert local_day(start, "-08:00:00") == date(2024, 11, 23)
    # Australia 2024: 04:00Z on the 24th is 15:00 local on the 24th; 14:00Z would be the 25th.
    assert local_day(datetime.fromisoformat("2024-03-24T14:00:00+00:00"), "11:00:00") == date(2024, 3, 25)
    assert parse_gmt_offset("08:00:00") == timedelta(hours=8)
    assert parse_gmt_offset("-04:30") == -timedelta(hours=4, minutes=30)
    assert parse_gmt_offset(None) == parse_gmt_offset("bogus") == timedelta(0)


def test_candidates_use_the_race_sessions_local_day_and_skip_the_sprint() -> None:
    meeting = Meeting.model_validate(
        {"meeting_key": 1250, "meeting_name": "Las Vegas Grand Prix", "location": "Las Vegas",
         "circuit_short_name": "Las Vegas", "country_name": "United States", "gmt_offset": "-08:00:00",
         "date_start": "2024-11-22T02:30:00+00:00", "date_end": "2024-11-24T08:00:00+00:00", "year": 2024}
    )  # fmt: skip
    base = {"meeting_key": 1250, "gmt_offset": "-08:00:00", "session_type": "Race", "year": 2024}
    sprint = Session.model_validate(
        {**base, "session_key": 1, "session_name": "Sprint", "date_start": "2024-11-23T00:00:00+00:00"}
    )
    main = Session.model_validate(
        {**base, "session_key": 9644, "session_name": "Race", "date_start": "2024-11-24T06:00:00+00:00"}
    )
    (only,) = candidates([meeting], [sprint, main])
    assert (only.race_session_key, only.race_day) == (9644, date(2024, 11, 23))
    assert (only.first_day, only.last_day) == (date(2024, 11, 21), date(2024, 11, 24))
    travel = race("Las Vegas Strip Circuit", day="2024-11-23", country="United States")
    assert match_race(travel, [only]) == Match(1250, 9644)
    assert match_race(race("vegas", day="2024-11-24"), [only]) == Match(1250, 9644)  # the UTC day


def test_a_meeting_without_a_race_session() -> None:
    pool = [cand(1229, "Sakhir", "Sakhir", "Bahrain", race_day=None)]  # pre-season testing
    got = match_race(race("Bahrain International Circuit", day="2024-09-21"), pool)
    assert got.reason == "meeting has no Race session (meeting 1229)"


def test_ambiguous_matches_are_not_guessed() -> None:
    pool = [cand(1, "Singapore"), cand(2, "Marina Bay")]
    assert match_race(race(), pool).reason == "ambiguous: meetings 1, 2 on 2024-09-22 at Marina Bay"
    # An exact day beats a neighbouring one; a venue beats a mere country.
    assert match_race(race(), [cand(1, "Singapore"), cand(2, "Singapore", race_day="2024-09-23")]).mapped
    usa = [cand(7, "Austin", "Austin", "United States"), cand(8, "Miami", "Miami", "United States")]
    assert match_race(race("Circuit of the Americas", country="United States"), usa).meeting_key == 7
    only_country = match_race(race("Some Oval", country="United States"), usa)
    assert only_country.reason is not None and only_country.reason.startswith("ambiguous: meetings 7, 8")


def test_assign_keeps_meeting_keys_unique() -> None:
    a, b = Match(1246, 9606), Match(1246, 9606)
    got = assign({"b": b, "a": a}, {})
    assert got == {"a": a, "b": Match(reason="meeting already mapped to a")}
    # The race already holding the meeting keeps it, whatever its id.
    got = assign({"a": a, "b": b}, {1246: "b"})
    assert got["a"].reason == "meeting already mapped to b" and got["b"] == b
    # A holder outside this run keeps it; a holder of this run that now matches elsewhere releases it.
    assert assign({"a": a}, {1246: "z"})["a"].reason == "meeting already mapped to z"
    assert assign({"a": a, "z": Match(reason="no meeting")}, {1246: "z"})["a"] == a


def test_travel_race_validation() -> None:
    assert race(day="2024-09-22T20:00:00+08:00").date == date(2024, 9, 22)  # the day as written
    assert race(day="2024-09-22").effective_season == 2024
    assert race(season=2025).effective_season == 2025
    assert race().fingerprint() == race().fingerprint() != race(day="2024-09-21").fingerprint()
    with pytest.raises(ValidationError):
        race(race_id="bad/id")
    with pytest.raises(ValidationError):
        race(day="22/09/2024")
