"""Helpers shared by the reducer tests: run an archive session through a reducer."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from shared.feed import FeedMessage, archive_messages, estimate_start_utc, read_archive_dir
from shared.timing.reducer import Changes, SessionReducer

STATIC = Path("livetiming/static")
BAKU = STATIC / "2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
SILVERSTONE_FP1 = STATIC / "2024/2024-07-07_British_Grand_Prix/2024-07-05_Practice_1"


def archive_feed(folder: Path) -> list[FeedMessage]:
    texts = read_archive_dir(folder)
    anchor = estimate_start_utc(texts, session_path=str(folder))
    return list(archive_messages(texts, start_utc=anchor.utc))


def feed(reducer: SessionReducer, messages: Iterable[FeedMessage]) -> Changes:
    changes = Changes()
    for message in messages:
        changes.extend(reducer.apply(message))
    return changes


def run_archive(folder: Path) -> SessionReducer:
    reducer = SessionReducer()
    feed(reducer, archive_feed(folder))
    reducer.finish()
    return reducer
