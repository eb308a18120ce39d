"""Every measurement the code logs (shared.logs.metric/count/RateMeter) is a metric the manifest
declares, with its kind and labels, so a log-based metric (infra/monitoring/) extracts it."""

from __future__ import annotations

import ast
from pathlib import Path

from infra.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = load_manifest()
KIND = {"metric": "distribution", "RateMeter": "distribution", "count": "counter"}
NOT_LABELS = {"every_s", "clock"}  # RateMeter's own parameters


def calls() -> list[tuple[str, str, str | None, set[str]]]:
    """(where, helper, metric name or None if not a literal, label names) of every call."""
    out = []
    for path in sorted(p for top in ("shared", "functions") for p in (ROOT / top).rglob("*.py")):
        if path == ROOT / "shared" / "logs.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "shared.logs"
            for alias in node.names
            if alias.name in KIND
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) and f.id in imported else None
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "logs":
                name = f.attr if f.attr in KIND else None
            if name is None:
                continue
            first = node.args[0] if node.args else None
            metric = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            labels = {k.arg for k in node.keywords if k.arg} - NOT_LABELS
            out.append((f"{path.relative_to(ROOT)}:{node.lineno}", name, metric, labels))
    return out


CALLS = calls()


def test_every_measurement_is_a_declared_metric_of_its_kind() -> None:
    wrong = []
    for where, helper, name, labels in CALLS:
        declared = MANIFEST.metrics.get(name or "")
        if declared is None:
            wrong.append(f"{where}: {helper}({name!r}) is not in the manifest's metrics (use a literal name)")
        elif declared.kind != KIND[helper]:
            wrong.append(f"{where}: {name} is a {declared.kind}, logged with {helper}()")
        elif labels - set(declared.labels):
            wrong.append(f"{where}: {name} has no label {sorted(labels - set(declared.labels))}")
    assert wrong == []


def test_the_pipeline_counters_are_logged() -> None:
    logged = {name for *_, name, _ in CALLS}
    assert {"ingest_lag_s", "firestore_writes_per_s", "quota_left"} <= logged
