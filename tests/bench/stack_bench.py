"""``pitlane stack up`` to every part healthy, and ``down`` to no process left (target: up < 30 s)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from infra.local import emulators, stack
from shared.config import load_settings
from tests.bench.common import Result

UP_TARGET_S = 30.0


def _free_base_port() -> int:
    for base in range(9100, 9900, stack.PORT_SPAN):
        if not any(emulators.port_in_use(p) for p in range(base, base + stack.PORT_SPAN)):
            return base
    raise RuntimeError("no free port range for the stack")


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="pitlane-bench-") as tmp:
        opts = stack.StackOptions(
            state_dir=Path(tmp), base_port=_free_base_port(), data_dir=load_settings().require_data_dir
        )
        t0 = time.perf_counter()
        result = stack.up(opts)
        up_s = time.perf_counter() - t0
        try:
            healthy = [ok for _, ok, _ in stack.status(opts.state_dir) or []]
        finally:
            t1 = time.perf_counter()
            stopped = stack.down(opts.state_dir) or []
            down_s = time.perf_counter() - t1
            left = [p for p in stopped if emulators.group_alive(p.pid)]
    parts = len(result.state.parts)
    return [
        Result(f"stack up ({parts} parts, {sum(healthy)} healthy)", up_s, "s",
               target=f"< {UP_TARGET_S:.0f} s", met=up_s < UP_TARGET_S and all(healthy)),
        Result(f"stack down ({len(left)} left running)", down_s, "s", target="0 left", met=not left),
    ]  # fmt: skip
