"""A gap-import run and its completion summary (pure).

A run is one planning pass (``plan_imports`` on its hourly tick, or ``pitlane gaps import``): the
sessions it planned, then one outcome per session as each import ends. When every planned session
has an outcome the run is complete and its :class:`RunSummary` goes to Pub/Sub ``import-events``
(``notify_import_events`` posts it to the ops Slack webhook when one is configured): processed,
succeeded (``complete``), partial, failed, unavailable, calls spent and left, deferred, duration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.imports.gaps import DataType, Host, ImportState


class SessionOutcome(BaseModel):
    """How one session's import ended (``error``: why it failed, for ops)."""

    model_config = ConfigDict(extra="forbid")

    session_id: str
    status: ImportState
    data_types: list[DataType] = Field(default_factory=list)
    calls: dict[Host, int] = Field(default_factory=dict)
    error: str | None = None


class RunSummary(BaseModel):
    """One ``import-events`` message; also the last line ``pitlane gaps import`` prints."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    season: int
    sessions: list[SessionOutcome]
    processed: int
    succeeded: int = Field(description="sessions now complete")
    partial: int
    failed: int
    unavailable: int = Field(description="sessions upstream has nothing of")
    calls_spent: int = Field(description="upstream calls made, planning's included")
    calls_left: int | None = Field(description="of --max-calls when given, else of this hour's quota")
    deferred: list[str] = Field(description="sessions left for the next run, oldest first")
    not_yet: list[str] = Field(default_factory=list, description="sessions too recent to import")
    started_utc: AwareDatetime
    duration_s: float


def summarise(
    *,
    run_id: str,
    season: int,
    outcomes: Sequence[SessionOutcome],
    planning_calls: Mapping[Host, int],
    calls_left: int | None,
    deferred: Sequence[str],
    not_yet: Sequence[str] = (),
    started: datetime,
    ended: datetime,
) -> RunSummary:
    counts = {
        state: sum(o.status == state for o in outcomes)
        for state in ("complete", "partial", "failed", "unavailable")
    }
    spent = sum(planning_calls.values()) + sum(sum(o.calls.values()) for o in outcomes)
    return RunSummary(
        run_id=run_id,
        season=season,
        sessions=list(outcomes),
        processed=len(outcomes),
        succeeded=counts["complete"],
        partial=counts["partial"],
        failed=counts["failed"],
        unavailable=counts["unavailable"],
        calls_spent=spent,
        calls_left=calls_left,
        deferred=list(deferred),
        not_yet=list(not_yet),
        started_utc=started,
        duration_s=round(max(0.0, (ended - started).total_seconds()), 3),
    )
