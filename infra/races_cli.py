"""``pitlane races map [--season Y]``, ``pitlane races unmapped``, ``pitlane races import FILE``.

The travel app's races (``races/{race_id}``) and their OpenF1 keys, in the configured Firestore
and OpenF1: locally after ``source .pitlane/stack.env``, or, with the default project and no
emulator hosts set, the running local stack (as ``pitlane replay`` does).

* ``map``: one line per race (id, date, status, keys or reason, ``(changed)`` when this run wrote
  it); the last line is one JSON object: ``seasons, races, mapped, unmapped, unchanged, writes``
  (``mapped``/``unmapped`` count races this run wrote; a second run reports only ``unchanged``).
* ``unmapped``: one tab-separated line per race with no keys: id, date, name, reason.
* ``import FILE``: a travel-app race list (a JSON list of races, or ``{"races": [...]}``) into
  ``races/``, for local use and tests; only new or changed races are written; refused in prod.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from infra.local.stack import DEFAULT_STATE_DIR, cli_settings
from shared.config import Settings
from shared.errors import BadRequestError, ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("races", help="the travel app's races and their OpenF1 keys")
    sub = parser.add_subparsers(dest="races_command", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help=argparse.SUPPRESS)

    mapper = sub.add_parser("map", parents=[common], help="map races to OpenF1 meeting and race session keys")
    mapper.add_argument("--season", type=int, help="only this season's races")
    mapper.set_defaults(func=handle_map)

    listing = sub.add_parser("unmapped", parents=[common], help="list races with no OpenF1 keys, and why")
    listing.set_defaults(func=handle_unmapped)

    importer = sub.add_parser(
        "import", parents=[common], help="load a travel-app race list (JSON) into races/"
    )
    importer.add_argument("file", type=Path, metavar="FILE")
    importer.set_defaults(func=handle_import)


def _db(settings: Settings) -> Any:
    from shared.gcp import firestore_client

    return firestore_client(settings)


def handle_map(args: argparse.Namespace) -> int:
    from shared.services.race_mapping import map_races
    from shared.sources.http import make_http_client
    from shared.sources.openf1 import OpenF1Client

    settings = cli_settings(args.state_dir)
    with make_http_client(settings) as http:
        client = OpenF1Client(settings=settings, http=http)
        report = map_races(db=_db(settings), client=client, settings=settings, season=args.season)
    for race in report.races:
        what = (
            f"meeting {race.meeting_key} session {race.session_key}"
            if race.status == "mapped"
            else race.reason
        )
        flag = "  (changed)" if race.changed else ""
        print(f"{race.race_id}\t{race.date}\t{race.status}\t{what}{flag}")
    print(json.dumps(report.summary()), flush=True)
    return 0


def handle_unmapped(args: argparse.Namespace) -> int:
    from shared.services.race_mapping import unmapped_races

    races = unmapped_races(_db(cli_settings(args.state_dir)))
    for race in races:
        print(f"{race.race_id}\t{race.date}\t{race.name}\t{race.reason}")
    print(f"races: {len(races)} unmapped", file=sys.stderr)
    return 0


def load_race_list(path: Path) -> list[Any]:
    """The races of a travel-app race list file; ``BadRequestError`` naming the first problem."""
    from shared.races.mapping import TravelRace

    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadRequestError(f"cannot read race list {str(path)!r}: {exc}") from None
    rows = payload.get("races") if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        raise BadRequestError(f"{path}: expected a list of races or {{'races': [...]}}")
    races = []
    for index, row in enumerate(rows):
        try:
            races.append(TravelRace.model_validate(row))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "race"
            raise BadRequestError(f"{path}: race {index}: {where}: {err['msg']}") from None
    ids = [r.race_id for r in races]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise BadRequestError(f"{path}: race id {duplicate!r} appears twice")
    return races


def handle_import(args: argparse.Namespace) -> int:
    from shared.stores.races import import_races

    settings = cli_settings(args.state_dir)
    if settings.env == "prod":
        raise ConfigError("pitlane races import does not write into PITLANE_ENV=prod")
    races = load_race_list(args.file)
    counts = import_races(_db(settings), races)
    print(json.dumps({"races": len(races), **counts.__dict__}), flush=True)
    return 0
