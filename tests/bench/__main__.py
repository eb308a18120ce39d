"""Run every benchmark and print one table: ``python -m tests.bench [NAME ...]``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from tests.bench import (
    api_bench,
    live_bench,
    notify_bench,
    reducer_bench,
    replay_bench,
    stack_bench,
    upstream_bench,
)
from tests.bench.common import Result

BENCHES: dict[str, Callable[[], list[Result]]] = {
    "upstream": upstream_bench.run,
    "stack": stack_bench.run,
    "reducer": reducer_bench.run,
    "replay": replay_bench.run,
    "live": live_bench.run,
    "notify": notify_bench.run,
    "api": api_bench.run,
    "api_soak": api_bench.run_soak,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"bench: unknown benchmark {unknown[0]!r}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    console = Console(width=140)
    table = Table(title="pitlane benchmarks")
    for col in ("benchmark", "figure", "value", "peer", "ratio", "target", "met"):
        table.add_column(col)
    failed = 0
    for name in names:
        t0 = time.perf_counter()
        try:
            results = BENCHES[name]()
        except Exception as exc:  # a benchmark that cannot run is reported, the others go on
            console.print(f"[red]{name} failed:[/] {type(exc).__name__}: {exc}")
            failed += 1
            continue
        for r in results:
            table.add_row(name, *r.cells())
        console.print(f"{name}: {time.perf_counter() - t0:.1f} s")
    console.print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
