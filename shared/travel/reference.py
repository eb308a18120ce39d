"""Reference data read from the data folder once per process: the history tables and the circuit
catalogue (layouts from ``circuits/circuits/*.geojson``, corners from
``multiviewer/circuits/<key>/<year>.json``, the latest year of each circuit)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.history.tables import HistoryTables, load_history
from shared.travel.circuits import Catalogue, Layout, build_catalogue, layout_from_geojson

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reference:
    history: HistoryTables
    catalogue: Catalogue


def _layouts(folder: Path) -> list[Layout]:
    out = []
    for path in sorted(folder.glob("*.geojson")):
        try:
            layout = layout_from_geojson(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("layout %s skipped: %s", path.name, exc)
            continue
        if layout is not None:
            out.append(layout)
    return out


def _corners(folder: Path) -> dict[str, int]:
    """Place name -> corners, from each circuit's most recent MultiViewer file."""
    out: dict[str, int] = {}
    for key_dir in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else ():
        years = sorted(key_dir.glob("*.json"))
        if not years:
            continue
        try:
            info = json.loads(years[-1].read_text(encoding="utf-8"))
            out[str(info["location"])] = len(info["corners"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("MultiViewer file %s skipped: %s", years[-1], exc)
    return out


@lru_cache(maxsize=2)
def load_reference(data_dir: Path) -> Reference:
    history = load_history(data_dir)
    catalogue = build_catalogue(
        history.circuits.values(),
        layouts=_layouts(data_dir / "circuits" / "circuits"),
        corners=_corners(data_dir / "multiviewer" / "circuits"),
    )
    return Reference(history=history, catalogue=catalogue)
