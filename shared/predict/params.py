"""Per-circuit constants of the live simulation (stored with each race prediction).

Kept apart from :mod:`shared.predict.live` so that reading stored predictions (the API) does not
import numpy.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RaceParams(BaseModel):
    """Per-circuit constants of the simulation (history estimates, see ``shared.predict.circuit``)."""

    model_config = ConfigDict(frozen=True)
    pit_loss_s: float = Field(default=22.0, description="time lost to a pit stop under green, seconds")
    sc_per_lap: float = Field(default=0.012, description="chance of a safety car starting on a given lap")
    dnf_per_lap: float = Field(default=0.0025, description="chance a running car retires on a given lap")
    max_stint_laps: float = Field(default=38.0, description="longest usual stint on one set of tyres, laps")
    lap_time_s: float = Field(default=95.0, description="typical green-flag lap time")
