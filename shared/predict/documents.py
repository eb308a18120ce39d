"""Stored predictions (Firestore ``predictions/...``, public read) and the API's answers.

* ``predictions/{session_id}``: the current :class:`Prediction` of a session (clients listen; at
  most one write a second);
* ``predictions/{session_id}/history/{key}``: every prediction made for it, written once each;
  ``key`` is ``{lap:03d}_{trigger}`` (``000_prerace``, ``012_lap_completed_5_012``,
  ``040_track_status_sc_2``), so the history sorts by lap;
* ``predictions/{session_id}/accuracy/summary``: :class:`Accuracy`, how the session's predictions
  scored once the result was known;
* ``prediction_accuracy/{season}_{model_version}``: :class:`AccuracyBucket`, the running sums
  ``GET /api/predictions/accuracy`` summarises.

Probabilities are in [0, 1]; intervals are ``[low, high]`` (90%). A race prediction lists every
starter, highest win probability first; a qualifying one (``kind = "grid"``) fills ``grid``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.predict.params import RaceParams

PredictionKind = Literal["prerace", "live", "final", "grid"]


class DriverOdds(BaseModel):
    model_config = ConfigDict(extra="ignore")
    driver_number: str
    name: str | None = None
    code: str | None = None
    team: str | None = None
    grid: int | None = Field(default=None, description="starting slot, 1 = pole (0: pit lane)")
    position: int | None = Field(default=None, description="place in the race when predicted")
    running: bool = True
    p_win: float = Field(ge=0, le=1)
    p_podium: float = Field(ge=0, le=1)
    p_points: float = Field(ge=0, le=1)
    win_interval: tuple[float, float] = (0.0, 0.0)
    podium_interval: tuple[float, float] = (0.0, 0.0)
    points_interval: tuple[float, float] = (0.0, 0.0)
    pace_score: float | None = Field(default=None, description="pre-race expected finish, 1 first, 0 last")
    gap_s: float | None = Field(default=None, description="behind the leader when predicted, seconds")
    stops_made: int | None = None


class GridOdds(BaseModel):
    """One driver in a qualifying session's predicted grid."""

    model_config = ConfigDict(extra="ignore")
    driver_number: str
    name: str | None = None
    team: str | None = None
    predicted_grid: int = Field(ge=1)
    best_lap_ms: int | None = Field(default=None, description="best lap of the session so far")
    pace_ms: int | None = Field(default=None, description="expected best lap at the end of the session")
    p_pole: float = Field(ge=0, le=1)
    p_top10: float = Field(ge=0, le=1, description="reaching Q3 (a top-ten grid slot)")
    eliminated: bool = False


class Prediction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    session_id: str
    kind: PredictionKind
    model_version: str
    season: int | None = None
    race_name: str | None = None
    lap: int = Field(default=0, description="laps the leader had completed (0: before the start)")
    total_laps: int | None = None
    track_status: str | None = None
    trigger: str = Field(description="what caused it: prerace, lap_completed, track_status, pit_in, ...")
    event_id: str | None = None
    as_of_utc: AwareDatetime = Field(description="the race time the prediction describes")
    computed_utc: AwareDatetime
    seq: str = Field(description="orders a session's predictions: '0|prerace' first, then as_of_utc|event id")
    revision: int = Field(default=0, description="writes of the current document so far (0 in the history)")
    drivers: list[DriverOdds] = Field(default_factory=list)
    grid: list[GridOdds] = Field(default_factory=list)
    params: RaceParams | None = Field(default=None, description="the live simulation's constants")

    @property
    def key(self) -> str:
        """The document id of this prediction in the session's history."""
        return history_key(self.lap, self.trigger_tag)

    @property
    def trigger_tag(self) -> str:
        if self.event_id and ":" in self.event_id:
            kind, _, rest = self.event_id.split(":", 1)[1].partition(":")
            return f"{kind}_{rest}".replace("/", "_")
        return self.trigger


def history_key(lap: int, tag: str) -> str:
    return f"{lap:03d}_{tag}"


class ScoredPrediction(BaseModel):
    key: str
    lap: int
    kind: PredictionKind
    brier_win: float
    log_loss_win: float
    winner_hit: bool
    podium_overlap: float


class Accuracy(BaseModel):
    """How one session's predictions fared (``predictions/{id}/accuracy/summary``)."""

    session_id: str
    season: int | None
    model_version: str
    winner: str | None = Field(description="driver number of the winner")
    podium: list[str]
    scored_utc: AwareDatetime
    predictions: int
    prerace: ScoredPrediction | None = None
    mean_brier_win: float
    mean_log_loss_win: float
    winner_hit_rate: float
    mean_podium_overlap: float
    by_prediction: list[ScoredPrediction] = Field(default_factory=list)


class AccuracyBucket(BaseModel):
    """Sums over the sessions scored for one season and model version."""

    season: int | None
    model_version: str
    sessions: list[str] = Field(default_factory=list)
    predictions: int = 0
    sum_brier_win: float = 0.0
    sum_log_loss_win: float = 0.0
    winner_hits: int = 0
    sum_podium_overlap: float = 0.0
    prerace_sessions: int = 0
    prerace_winner_hits: int = 0
    prerace_sum_podium_overlap: float = 0.0
    prerace_sum_brier_win: float = 0.0


class AccuracyRow(BaseModel):
    """One line of ``GET /api/predictions/accuracy``."""

    season: int | None
    model_version: str
    sessions: int
    predictions: int
    brier_win: float
    log_loss_win: float
    winner_accuracy: float
    podium_overlap: float
    prerace_winner_accuracy: float | None = None
    prerace_podium_overlap: float | None = None
    prerace_brier_win: float | None = None


class AccuracySummary(BaseModel):
    by_season: list[AccuracyRow]
    by_model_version: list[AccuracyRow]
