"""What a benchmark reports: a figure, optionally its peer, the ratio and the target."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class Result:
    figure: str
    value: float
    unit: str
    peer: float | None = None
    peer_name: str = ""
    target: str = ""
    met: bool | None = None

    def cells(self) -> list[str]:
        ratio = f"{self.value / self.peer:.2f}x" if self.peer else ""
        peer = f"{self.peer:.2f} {self.unit} ({self.peer_name})" if self.peer is not None else ""
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return [self.figure, f"{self.value:.2f} {self.unit}", peer, ratio, self.target, met]


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def median(samples: list[float]) -> float:
    return statistics.median(samples)
