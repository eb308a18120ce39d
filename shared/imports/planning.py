"""Plan imports within the remaining quota (pure).

Given a :class:`~shared.imports.gaps.GapReport` and the calls left this hour per host (from the
quota ledger, :func:`shared.imports.quota.budget`), :func:`plan` takes sessions oldest first while
their estimated calls fit; the first that does not fit, and everything after it, is deferred to the
next run. Strict chronological order is on purpose: were a cheaper later session allowed to jump
ahead, a race (the dearest import: Jolpica results and laps) could be starved hour after hour by
practice sessions, and "imported up to X" would no longer hold.

The season's own calls (the schedule read, ``GapReport.season_calls``) are charged once, before the
first session. A host absent from ``budget`` has no calls left.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from shared.imports.gaps import GapReport, Host, SessionGap


class ImportPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sessions: tuple[SessionGap, ...] = Field(description="to import now, in chronological order")
    deferred: tuple[SessionGap, ...] = Field(description="left for a later run, in chronological order")
    calls: dict[Host, int] = Field(description="calls the planned sessions need per host (season's included)")

    @property
    def empty(self) -> bool:
        return not self.sessions


def _fits(calls: Mapping[Host, int], left: Mapping[Host, int]) -> bool:
    return all(n <= left.get(host, 0) for host, n in calls.items() if n > 0)


def _charge(calls: Mapping[Host, int], left: dict[Host, int], spent: dict[Host, int]) -> None:
    for host, n in calls.items():
        left[host] = left.get(host, 0) - n
        spent[host] = spent.get(host, 0) + n


def plan(report: GapReport, *, budget: Mapping[Host, int], max_sessions: int | None = None) -> ImportPlan:
    """Sessions of ``report`` that fit ``budget`` (calls left per host), oldest first.

    ``max_sessions`` caps the plan (e.g. what one run has time for); the rest is deferred.
    """
    gaps = sorted(report.sessions, key=lambda g: (g.start_utc, g.session_id))
    left = {host: max(0, n) for host, n in budget.items()}
    if not gaps or not _fits(report.season_calls, left):
        return ImportPlan(sessions=(), deferred=tuple(gaps), calls={})
    spent: dict[Host, int] = {}
    _charge(report.season_calls, left, spent)
    taken: list[SessionGap] = []
    for gap in gaps:
        if (max_sessions is not None and len(taken) >= max_sessions) or not _fits(gap.calls, left):
            break
        _charge(gap.calls, left, spent)
        taken.append(gap)
    return ImportPlan(sessions=tuple(taken), deferred=tuple(gaps[len(taken) :]), calls=spent if taken else {})
