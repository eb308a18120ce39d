"""The reducer on the 2018 Azerbaijan GP race against FastF1 loading the same session (target: 20x).

Both read the race from the same upstream server (uvicorn in a thread of this process). FastF1
loads once, cold (a fresh cache folder, so every file is really fetched and parsed):
``get_session(2018, 'Azerbaijan', 'R').load(laps=True, telemetry=False, weather=False,
messages=True)``. Ours, best of 3, two figures:

* the reducer alone: ``SessionReducer.apply`` over the messages already parsed, then ``finish``;
* the whole path: fetch the archive over HTTP from the server, parse, reduce
  (``messages_from_source`` on the ``/static/...`` path, as ``pitlane replay`` does).

Throughput is in feed messages per second; FastF1's figure is the same message count over its
load time, so the ratio column is how many times faster ours is.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from infra.upstream.fastf1_local import point_fastf1_at
from shared.config import load_settings
from shared.feed import FeedMessage, archive_messages, estimate_start_utc, read_archive_dir
from shared.services.ingest import messages_from_source
from shared.sources.http import make_http_client
from shared.timing.reducer import SessionReducer
from tests.bench.common import Result
from tests.integration.upstream_fixture import running_upstream

RACE = "2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
ROUNDS = 3
TARGET_X = 20.0


def _reduce(messages: Iterable[FeedMessage]) -> SessionReducer:
    reducer = SessionReducer()
    for message in messages:
        reducer.apply(message)
    reducer.finish()
    return reducer


def _fastf1_load(url: str, cache_dir: Path) -> tuple[float, int]:
    """Seconds FastF1 takes to load the race cold, and the laps it found."""
    import fastf1

    fastf1.set_log_level(logging.ERROR)
    point_fastf1_at(url, cache_dir)
    t0 = time.perf_counter()
    session = fastf1.get_session(2018, "Azerbaijan", "R")
    session.load(laps=True, telemetry=False, weather=False, messages=True)
    return time.perf_counter() - t0, len(session.laps)


def run() -> list[Result]:
    settings = load_settings()
    folder = settings.require_data_dir / "livetiming/static" / RACE
    texts = read_archive_dir(folder)
    messages = list(archive_messages(texts, start_utc=estimate_start_utc(texts, session_path=RACE).utc))
    alone: list[float] = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        reducer = _reduce(messages)
        alone.append(time.perf_counter() - t0)
    laps = len(reducer.laps())

    with (
        running_upstream(data_dir=settings.require_data_dir) as up,
        tempfile.TemporaryDirectory(prefix="pitlane-bench-fastf1-") as tmp,
    ):
        http_settings = load_settings(f1_static_url=up.url)
        whole: list[float] = []
        with make_http_client(http_settings) as http:
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                source = messages_from_source(f"/static/{RACE}", settings=http_settings, http=http)
                fetched = _reduce(source.messages)
                whole.append(time.perf_counter() - t0)
        fastf1_s, fastf1_laps = _fastf1_load(up.url, Path(tmp) / "cache")

    n = len(messages)
    best_alone, best_whole = min(alone), min(whole)
    peer = n / fastf1_s
    target = f">= {TARGET_X:.0f}x"
    return [
        Result(f"FastF1 load, cold cache ({fastf1_laps} laps)", fastf1_s, "s"),
        Result(f"reducer alone: {n} msgs, {laps} laps in {best_alone:.3f} s (best of {ROUNDS})",
               n / best_alone, "msg/s", peer, "FastF1 load", target, fastf1_s / best_alone >= TARGET_X),
        Result(f"HTTP fetch+parse+reduce: {len(fetched.laps())} laps in {best_whole:.3f} s "
               f"(best of {ROUNDS})",
               n / best_whole, "msg/s", peer, "FastF1 load", target, fastf1_s / best_whole >= TARGET_X),
    ]  # fmt: skip
