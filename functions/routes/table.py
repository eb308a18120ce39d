"""The ``api`` function's route table, and what route modules share.

A route module registers its routes on :data:`TABLE` at import (``functions/routes/__init__.py``
imports each one). Firestore stores are imported inside handlers: the Firestore library is the
heaviest import on this path, and the function's import time is measured (``make bench``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from shared.api.params import Params
from shared.api.router import Call, RouteTable

TABLE = RouteTable()

ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
SessionId = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        description="a session id, e.g. '2024_singapore_grand_prix_r'",
        examples=["2024_british_grand_prix_fp1"],
    ),
]
CircuitId = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9_-]{1,64}$",
        description="a circuit id (Ergast circuitRef), e.g. 'monza'",
        examples=["silverstone"],
    ),
]


class SessionPath(Params):
    session_id: SessionId


class CircuitPath(Params):
    circuit_id: CircuitId


def db(call: Call) -> Any:
    """The Firestore client (built on first use, once per instance)."""
    return call.deps.db()


def data_dir(call: Call) -> Path:
    """The reference data folder (history tables, circuit layouts); a ``ConfigError`` if unset."""
    folder: Path = call.deps.settings.require_data_dir
    return folder
