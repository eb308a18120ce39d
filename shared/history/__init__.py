"""Ergast-schema race history (1950 onwards): typed tables loaded from CSV or built from rows."""

from shared.history.rows import (
    Circuit,
    Constructor,
    Driver,
    PitStop,
    QualifyingRow,
    Race,
    RedFlag,
    Result,
    SafetyCar,
    Status,
)
from shared.history.tables import HistoryDataError, HistoryTables, load_history

__all__ = [
    "Circuit",
    "Constructor",
    "Driver",
    "HistoryDataError",
    "HistoryTables",
    "PitStop",
    "QualifyingRow",
    "Race",
    "RedFlag",
    "Result",
    "SafetyCar",
    "Status",
    "load_history",
]
