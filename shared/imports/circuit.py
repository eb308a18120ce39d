"""MultiViewer circuit info -> :class:`CircuitLayout` (pure).

MultiViewer (FastF1's circuit source) answers ``/api/v1/circuits/<circuit_key>/<year>`` with the
track's corners, marshal lights and sectors as points in the timing feed's position frame
(decimetres, x/y), ``rotation`` (degrees to turn the map so it looks like the official one), the
outline (``x`` and ``y`` lists) and pit-lane time loss in seconds under green, SC and VSC. The
circuit key is F1's (``SessionInfo.Meeting.Circuit.Key``: 39 is Monza). A layout belongs to a
season: circuits are re-profiled between years. Stored as ``circuit_layouts/{key}_{year}`` with
``available: true``; a circuit and season MultiViewer has nothing for is stored as
``{circuit_key, year, available: false}`` so other sessions there do not ask again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

COLLECTION = "circuit_layouts"


class TrackPoint(BaseModel):
    """A numbered point on track: a corner (``number`` + optional ``letter``: 10a), a marshal
    light or sector. ``x``/``y`` in the position frame (1/10 m), ``angle`` in degrees (where the
    label goes), ``distance_m`` from the line along the lap when MultiViewer gives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int
    letter: str = ""
    x: float
    y: float
    angle: float = 0.0
    distance_m: float | None = None


class CircuitLayout(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    circuit_key: int = Field(description="F1's circuit key")
    year: int
    circuit_name: str | None = None
    country: str | None = None
    rotation_deg: float = 0.0
    corners: list[TrackPoint]
    marshal_lights: list[TrackPoint] = Field(default_factory=list)
    marshal_sectors: list[TrackPoint] = Field(default_factory=list)
    outline_x: list[float] = Field(default_factory=list)
    outline_y: list[float] = Field(default_factory=list)
    pit_loss_s: dict[str, float] = Field(default_factory=dict, description="normal, sc, vsc")

    @property
    def doc_id(self) -> str:
        return layout_id(self.circuit_key, self.year)


def layout_id(circuit_key: int, year: int) -> str:
    return f"{circuit_key}_{year}"


def _points(rows: Any) -> list[TrackPoint]:
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            pos = row.get("trackPosition") or {}
            out.append(
                TrackPoint(
                    number=int(row.get("number", 0)),
                    letter=str(row.get("letter") or ""),
                    x=float(pos["x"]),
                    y=float(pos["y"]),
                    angle=float(row.get("angle") or 0.0),
                    distance_m=float(row["length"]) / 10 if row.get("length") is not None else None,
                )
            )
        except (AttributeError, KeyError, TypeError, ValueError, ValidationError):
            continue  # one bad point must not cost the circuit its layout
    return out


def _floats(values: Any) -> list[float]:
    try:
        return [float(v) for v in values] if isinstance(values, list) else []
    except (TypeError, ValueError):
        return []


def parse_circuit(payload: Mapping[str, Any], *, circuit_key: int, year: int) -> CircuitLayout | None:
    """The layout in a MultiViewer answer; None when it has no corners (nothing to show)."""
    corners = _points(payload.get("corners"))
    if not corners:
        return None
    pit_loss: dict[str, float] = {}
    for name, value in (payload.get("pitLoss") or {}).items():
        try:
            pit_loss[str(name)] = float(value)
        except (TypeError, ValueError):
            continue
    return CircuitLayout(
        circuit_key=circuit_key,
        year=year,
        circuit_name=payload.get("circuitName"),
        country=payload.get("countryName"),
        rotation_deg=float(payload.get("rotation") or 0.0),
        corners=corners,
        marshal_lights=_points(payload.get("marshalLights")),
        marshal_sectors=_points(payload.get("marshalSectors")),
        outline_x=_floats(payload.get("x")),
        outline_y=_floats(payload.get("y")),
        pit_loss_s=pit_loss,
    )
