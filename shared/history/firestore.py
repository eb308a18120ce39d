"""The history tables in Firestore, for instances without the CSV folder (production).

One collection per table, ``history_<table>`` (``history_races``, ``history_results``, ...), one
document per CSV row with the row's cells as text (``\\N`` kept), id the row's position in the file
(``000000``...), so uploading the same folder again rewrites the same documents. Server only (the
rules deny clients). :func:`load_history_from_firestore` reads them back into the same
:class:`~shared.history.tables.HistoryTables` the CSV loader builds.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

from shared.history.tables import OPTIONAL, REQUIRED, HistoryDataError, HistoryTables

if TYPE_CHECKING:
    from google.cloud import firestore

PREFIX = "history_"
BATCH = 400


def collection_name(table: str) -> str:
    return f"{PREFIX}{table}"


def upload_history(folder: Path, *, db: firestore.Client) -> dict[str, int]:
    """Write every table of the CSV ``folder`` to Firestore; rows written per table."""
    written: dict[str, int] = {}
    for table in REQUIRED + OPTIONAL:
        path = folder / f"{table}.csv"
        if not path.is_file():
            if table in REQUIRED:
                raise HistoryDataError(f"history table {path} is missing")
            continue
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        ref = db.collection(collection_name(table))
        for start in range(0, len(rows), BATCH):
            batch = db.batch()
            for i, row in enumerate(rows[start : start + BATCH], start=start):
                batch.set(ref.document(f"{i:06d}"), dict(row))
            batch.commit()
        written[table] = len(rows)
    return written


def load_history_from_firestore(db: firestore.Client) -> HistoryTables:
    """The tables stored by :func:`upload_history` (``HistoryDataError`` when a required one is
    empty)."""
    tables = {}
    for table in REQUIRED + OPTIONAL:
        rows = [snap.to_dict() or {} for snap in db.collection(collection_name(table)).stream()]
        if rows or table in OPTIONAL:
            tables[table] = rows
    return HistoryTables.from_rows(tables)
