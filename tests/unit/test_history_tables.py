"""The Ergast-schema history loader: typed rows, indices, nulls, malformed rows, the real tables.

The real-data tests read ``../shared/data/history`` in place (skipped without it); the others write
small hand-made CSV folders of their own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from shared.history import HistoryDataError, HistoryTables, load_history

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not (DATA / "history").is_dir(), reason="no recorded data")

HEADERS = {
    "races": "raceId,year,round,circuitId,name,date,time,url,quali_date,sprint_date",
    "results": "resultId,raceId,driverId,constructorId,number,grid,position,positionText,positionOrder,"
    "points,laps,time,milliseconds,fastestLap,rank,fastestLapTime,fastestLapSpeed,statusId",
    "drivers": "driverId,driverRef,number,code,forename,surname,dob,nationality,url",
    "constructors": "constructorId,constructorRef,name,nationality,url",
    "circuits": "circuitId,circuitRef,name,location,country,lat,lng,alt,url",
    "status": "statusId,status",
    "qualifying": "qualifyId,raceId,driverId,constructorId,number,position,q1,q2,q3",
    "safety_cars": "Race,Cause,Deployed,Retreated,FullLaps",
    "red_flags": "Race,Lap,Resumed,Incident,Excluded",
}


def write_folder(root: Path, rows: dict[str, list[str]]) -> Path:
    for name, lines in rows.items():
        body = "\n".join([HEADERS[name], *lines]) + "\n"
        # A byte-order mark on one file, as some exports have.
        (root / f"{name}.csv").write_text(("\ufeff" if name == "races" else "") + body, encoding="utf-8")
    return root


def small_folder(root: Path) -> Path:
    return write_folder(
        root,
        {
            "races": [
                '2,2021,2,7,"Second GP","2021-04-10",\\N,u,\\N,\\N',
                '1,2021,1,7,"First GP","2021-03-28","15:00:00",u,"2021-03-27",\\N',
                "bad,2021,3,7,Broken,2021-05-01,\\N,u,\\N,\\N",
            ],
            "results": [
                "10,1,1,1,44,2,1,1,1,25,56,x,5000000,40,1,x,x,1",
                "11,1,2,2,33,1,\\N,R,2,0,20,\\N,\\N,\\N,\\N,\\N,\\N,5",
                "12,1,3,2,11,0,2,2,3,18,55,x,\\N,\\N,\\N,\\N,\\N,11",
            ],
            "drivers": [
                '1,"ham",44,"HAM","Lewis","Hamilton","1985-01-07","British",u',
                "2,ver,\\N,\\N,Max,V,\\N,Dutch,u",
            ],
            "constructors": ["1,mercedes,Mercedes,German,u", "2,red_bull,Red Bull,Austrian,u"],
            "circuits": [
                '7,"bahrain","Bahrain International Circuit","Sakhir","Bahrain",26.0325,50.5106,7,u'
            ],
            "status": ["1,Finished", "5,Engine", "11,+1 Lap"],
            "qualifying": ["1,1,2,2,33,1,1:30.499,1:29.9,\\N", "2,1,1,1,44,2,1:31.0,\\N,\\N"],
            "safety_cars": [
                "2021 First GP,Accident,3,6.0,2",
                "2021 Nowhere GP,Accident,1,2,1",
                "2021 Second GP,Rain,50,,1",
            ],
            "red_flags": ["2021 Second GP,12,R,Crash,"],
        },
    )


def test_typed_rows_nulls_and_indices(tmp_path: Path) -> None:
    tables = HistoryTables.load(small_folder(tmp_path))

    assert [r.race_id for r in tables.races] == [1, 2]  # calendar order; the malformed row dropped
    first = tables.race(1)
    assert first.label == "2021 First GP"
    assert first.start_utc == datetime(2021, 3, 28, 15, tzinfo=UTC)
    assert first.quali_date == date(2021, 3, 27)
    assert tables.race(2).start_utc is None

    winner, dnf, lapped = tables.results_of(1)
    assert (winner.driver_id, winner.grid, winner.position, winner.points) == (1, 2, 1, 25.0)
    assert dnf.position is None and dnf.position_text == "R" and dnf.milliseconds is None
    assert lapped.grid == 0  # pit lane start
    assert [tables.finished(r) for r in (winner, dnf, lapped)] == [True, False, True]
    assert tables.status_text(5) == "Engine"

    pole = tables.qualifying_of(1)[0]
    assert (pole.driver_id, pole.q1_ms, pole.q2_ms, pole.q3_ms, pole.best_ms) == (
        2,
        90499,
        89900,
        None,
        89900,
    )

    assert tables.drivers[1].full_name == "Lewis Hamilton" and tables.drivers[1].dob == date(1985, 1, 7)
    assert tables.drivers[2].number is None and tables.drivers[2].code is None
    circuit = tables.circuits[7]
    assert (circuit.circuit_ref, circuit.lat, circuit.lng, circuit.alt) == ("bahrain", 26.0325, 50.5106, 7)
    assert tables.circuit_by_ref("bahrain") is circuit
    assert [r.race_id for r in tables.at_circuit(7)] == [1, 2]
    assert tables.find_race(2021, 2) == tables.race(2) and tables.find_race(2021, 9) is None

    # Safety cars and red flags map "<year> <name>" to the race; an unknown race is skipped.
    (sc,) = tables.safety_cars_of(1)
    assert (sc.deployed_lap, sc.retreated_lap, sc.full_laps, sc.cause) == (3, 6, 2, "Accident")
    assert tables.safety_cars_of(2)[0].retreated_lap is None  # ended behind the safety car
    assert tables.red_flags_of(2)[0].lap == 12
    assert tables.skipped == {"races": 1, "safety_cars": 1}
    assert tables.pit_stops_of(1) == [] and tables.sprint_of(1) == []  # optional tables absent


def test_load_is_cached_until_a_file_changes(tmp_path: Path) -> None:
    folder = small_folder(tmp_path)
    assert HistoryTables.load(folder) is HistoryTables.load(folder)
    assert load_history(folder) is HistoryTables.load(folder)  # the CSV folder itself is accepted
    before = HistoryTables.load(folder)
    write_folder(folder, {"status": ["1,Finished", "5,Engine", "11,+1 Lap", "12,+2 Laps"]})
    after = HistoryTables.load(folder)
    assert after is not before and 12 in after.status


def test_missing_tables_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HistoryDataError, match=r"races\.csv"):
        HistoryTables.load(tmp_path)
    write_folder(tmp_path, {"races": ['1,2021,1,7,"First GP","2021-03-28",\\N,u,\\N,\\N']})
    with pytest.raises(HistoryDataError, match="results"):
        HistoryTables.load(tmp_path)
    with pytest.raises(HistoryDataError, match="drivers"):
        HistoryTables.from_rows({"races": [], "results": []})


def test_from_rows_accepts_typed_cells() -> None:
    """Rows as Firestore returns them: numbers already numbers, nulls as None."""
    tables = HistoryTables.from_rows(
        {
            "races": [
                {"raceId": 5, "year": 2020, "round": 1, "circuitId": 1, "name": "X GP", "date": "2020-07-05"}
            ],
            "results": [
                {
                    "resultId": 1, "raceId": 5, "driverId": 1, "constructorId": 1, "number": None, "grid": 3,
                    "position": 1, "positionText": "1", "positionOrder": 1, "points": 25, "laps": 71,
                    "milliseconds": None, "fastestLap": None, "statusId": 1,
                }
            ],
            "drivers": [], "constructors": [], "circuits": [], "status": [],
        }
    )  # fmt: skip
    (result,) = tables.results_of(5)
    assert (result.grid, result.points, result.number) == (3, 25.0, None)


@needs_data
def test_real_tables_load_whole() -> None:
    tables = load_history(DATA)
    assert tables.skipped == {}
    assert min(r.year for r in tables.races) == 1950 and max(r.year for r in tables.races) == 2023
    baku = tables.find_race(2018, 4)
    assert baku is not None and baku.name == "Azerbaijan Grand Prix"
    podium = [tables.drivers[r.driver_id].surname for r in tables.results_of(baku.race_id)[:3]]
    assert podium == ["Hamilton", "Räikkönen", "Pérez"]
    assert tables.circuits[baku.circuit_id].circuit_ref == "baku"
    assert [s.deployed_lap for s in tables.safety_cars_of(baku.race_id)] == [1, 40]
    # Every safety car and red flag row names a race the races table has (none skipped above).
    assert tables.safety_cars and tables.red_flags
    assert len(tables.season(2023)) == 22
    assert all(r.grid >= 0 for r in tables.results)
