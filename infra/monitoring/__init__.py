"""Log-based metrics and alert policies as code, rendered from the manifest.

The functions log measurements as structured fields (``shared.logs.metric``/``count``: one JSON
line ``{"metric": <name>, "value": ..., <labels>}``); Cloud Logging turns them into metrics here,
and Cloud Monitoring alerts on those. Rendered files (``pitlane deploy --render-cloudbuild``
writes them, a test fails when they drift from the manifest):

* ``infra/monitoring/metrics/<metric>.json``: a ``LogMetric`` for ``gcloud logging metrics
  create|update --config-from-file``; distributions extract ``value``, counters count lines;
* ``infra/monitoring/alerts/<env>/<alert>.json``: an ``AlertPolicy`` for ``gcloud alpha monitoring
  policies create|update --policy-from-file``, with the environment's notification channels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.manifest import Alert, Environment, Manifest, Metric

HERE = Path(__file__).resolve().parent
METRICS_DIR = HERE / "metrics"
ALERTS_DIR = HERE / "alerts"
PREFIX = "pitlane_"
METRIC_TYPE = f"logging.googleapis.com/user/{PREFIX}"
RESOURCE = 'resource.type="cloud_run_revision"'  # 2nd-gen functions log as Cloud Run revisions
PROJECT = "$PROJECT_ID"
_ALIGNERS = {"p50": "ALIGN_PERCENTILE_50", "p95": "ALIGN_PERCENTILE_95", "p99": "ALIGN_PERCENTILE_99"}


def log_metric(name: str, metric: Metric) -> dict[str, Any]:
    distribution = metric.kind == "distribution"
    body: dict[str, Any] = {
        "name": PREFIX + name,
        "description": metric.description,
        "filter": f'{RESOURCE} AND jsonPayload.metric="{name}"',
        "metricDescriptor": {
            "metricKind": "DELTA",
            "valueType": "DISTRIBUTION" if distribution else "INT64",
            "unit": metric.unit,
            "labels": [{"key": label, "valueType": "STRING"} for label in metric.labels],
        },
        "labelExtractors": {label: f"EXTRACT(jsonPayload.{label})" for label in metric.labels},
    }
    if distribution:
        body["valueExtractor"] = "EXTRACT(jsonPayload.value)"
        # 0.01 .. ~1e6 in 48 buckets: milliseconds, seconds and counts alike.
        body["bucketOptions"] = {
            "exponentialBuckets": {"numFiniteBuckets": 48, "growthFactor": 1.5, "scale": 0.01}
        }
    return body


def display_name(env: str, name: str) -> str:
    return f"pitlane-{env}: {name}"


def alert_policy(name: str, alert: Alert, env: Environment) -> dict[str, Any]:
    where = "".join(f' AND metric.label.{key}="{value}"' for key, value in sorted(alert.where.items()))
    counter = alert.aggregation == "sum"
    aggregation = {
        "alignmentPeriod": f"{alert.window_s}s",
        "perSeriesAligner": "ALIGN_DELTA" if counter else _ALIGNERS[alert.aggregation],
        "crossSeriesReducer": "REDUCE_SUM" if counter else "REDUCE_MAX",
    }
    return {
        "displayName": display_name(env.name, name),
        "documentation": {"content": alert.description, "mimeType": "text/markdown"},
        "userLabels": {"app": "pitlane", "env": env.name},
        "combiner": "OR",
        "conditions": [
            {
                "displayName": f"{alert.metric} {alert.aggregation} > {alert.threshold:g} /{alert.window_s}s",
                "conditionThreshold": {
                    "filter": f'metric.type="{METRIC_TYPE}{alert.metric}" AND {RESOURCE}{where}',
                    "comparison": "COMPARISON_GT",
                    "thresholdValue": alert.threshold,
                    "duration": "0s",
                    "aggregations": [aggregation],
                    "trigger": {"count": 1},
                },
            }
        ],
        "alertStrategy": {"autoClose": "86400s"},
        "notificationChannels": list(env.notification_channels),
        "enabled": True,
    }


def render_files(manifest: Manifest, envs: dict[str, Environment]) -> dict[Path, str]:
    """Every monitoring file, path -> content."""

    def dump(doc: dict[str, Any]) -> str:
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    files = {METRICS_DIR / f"{name}.json": dump(log_metric(name, m)) for name, m in manifest.metrics.items()}
    for env in envs.values():
        for name, alert in manifest.alerts.items():
            files[ALERTS_DIR / env.name / f"{name}.json"] = dump(alert_policy(name, alert, env))
    return files


def stale_files(files: dict[Path, str]) -> list[Path]:
    """Rendered files on disk that the manifest no longer makes."""
    on_disk = [*METRICS_DIR.glob("*.json"), *ALERTS_DIR.glob("*/*.json")]
    return sorted(p for p in on_disk if p not in files)


def write_files(files: dict[Path, str]) -> list[Path]:
    """Write ``files``, remove stale ones; returns the paths that changed."""
    changed = []
    for path in stale_files(files):
        path.unlink()
        changed.append(path)
    for path, text in files.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def drift(files: dict[Path, str]) -> list[Path]:
    """Files that differ from the rendering (missing, changed or stale)."""
    wrong = [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    return sorted(wrong + stale_files(files))


def script(manifest: Manifest, root: Path) -> list[str]:
    """Shell lines (Cloud Build escapes) that create or update every metric, then every policy."""
    lines = []
    for name in manifest.metrics:
        path = str((METRICS_DIR / f"{name}.json").relative_to(root))
        args = f"{PREFIX}{name} --project={PROJECT} --config-from-file={path}"
        exists = (
            f"gcloud logging metrics describe {PREFIX}{name} --project={PROJECT} --format=none 2>/dev/null"
        )
        metrics = "gcloud logging metrics"
        lines.append(f"if {exists}; then {metrics} update {args}; else {metrics} create {args}; fi")
    for name in manifest.alerts:
        path = f"{ALERTS_DIR.relative_to(root)}/${{_ENV}}/{name}.json"
        title = display_name("${_ENV}", name)
        lines.append(
            f"POLICY=$$(gcloud alpha monitoring policies list --project={PROJECT}"
            f" --filter='displayName=\"{title}\"' --format='value(name)' --limit=1)"
        )
        policies, args = "gcloud alpha monitoring policies", f"--project={PROJECT} --policy-from-file={path}"
        update, create = f'{policies} update "$$POLICY" {args}', f"{policies} create {args}"
        lines.append(f'if [ -n "$$POLICY" ]; then {update}; else {create}; fi')
    return lines
