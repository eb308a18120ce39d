"""The deploy manifest (``infra/manifest.yaml``) and the environments (``infra/env/*.yaml``).

Everything that provisions, deploys or runs Pitlane reads the manifest through ``load_manifest``:
the local stack, ``pitlane provision``, ``pitlane deploy``, the IAM bindings (``infra/iam.py``),
the monitoring files and the cloudbuild.yaml renderer. A function's ``needs`` (what Google Cloud
resources its code uses) are the only place its permissions come from; an environment file holds
what differs between deployments (project, region, instance counts, alert channels).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

MANIFEST_PATH = Path(__file__).with_name("manifest.yaml")
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,61}[a-z0-9]$")
_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")
_ENV_VAR = re.compile(r"^[A-Z][A-Z0-9_]*$")
ENV_DIR = Path(__file__).with_name("env")
SA_PREFIX = "pitlane-"
# Service account ids are 6-30 characters (IAM): ``pitlane-`` + the function name, ``_`` as ``-``.
SA_ID_MAX = 30


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpTrigger(_Strict):
    type: Literal["http"]


class TopicTrigger(_Strict):
    type: Literal["topic"]
    topic: str


class QueueTrigger(_Strict):
    """An HTTP function whose callers are Cloud Tasks on ``queue``."""

    type: Literal["queue"]
    queue: str


Trigger = Annotated[HttpTrigger | TopicTrigger | QueueTrigger, Field(discriminator="type")]


class Topic(_Strict):
    name: str = Field(pattern=_RESOURCE_NAME.pattern)
    description: str = ""
    dead_letter: bool = False
    # A topic nothing is triggered by (a function's own dead letters): keep its messages in a pull
    # subscription ``<name>-sub`` for an operator to read or replay.
    pull_subscription: bool = False

    @property
    def dead_letter_topic(self) -> str | None:
        return f"{self.name}-dead-letter" if self.dead_letter else None


class Queue(_Strict):
    name: str = Field(pattern=_RESOURCE_NAME.pattern)
    description: str = ""
    max_dispatches_per_second: float = Field(gt=0, le=500)
    max_concurrent_dispatches: int = Field(ge=1, le=5000)
    max_attempts: int = Field(ge=1, le=100)


class SchedulerJob(_Strict):
    name: str = Field(pattern=_RESOURCE_NAME.pattern)
    description: str = ""
    schedule: str
    time_zone: str = "Etc/UTC"
    topic: str
    payload: dict[str, Any] = Field(default_factory=dict)


class Secret(_Strict):
    """A Secret Manager secret, mounted as the environment variable ``env`` (a setting) into the
    functions that need ``secret:<name>``. Values are added by an operator, never in code.

    ``optional``: a feature that is off while its setting is unset (an empty value would not be
    unset): mounted only in the environments whose file lists it under ``secrets``."""

    name: str = Field(pattern=_RESOURCE_NAME.pattern)
    description: str = ""
    env: str = Field(pattern=_ENV_VAR.pattern)
    optional: bool = False


class Bucket(_Strict):
    """A Cloud Storage bucket ``<project>-pitlane-<name>``. The functions that need it get the
    environment variable ``env`` (a setting): the bucket's name, or ``gs://<bucket>/<path>``."""

    name: str = Field(pattern=_RESOURCE_NAME.pattern)
    description: str = ""
    env: str | None = Field(None, pattern=_ENV_VAR.pattern)
    path: str = ""
    versioning: bool = False
    delete_after_days: int | None = Field(None, ge=1, le=3650)


class Metric(_Strict):
    """A log-based metric over ``shared.logs`` lines ``{"metric": <name>, "value": ..., labels}``.

    ``distribution``: ``shared.logs.metric(name, value, **labels)``, one value per line;
    ``counter``: ``shared.logs.count(name, **labels)``, one line per occurrence."""

    kind: Literal["distribution", "counter"]
    unit: str = "1"
    labels: tuple[str, ...] = ()
    description: str


class Alert(_Strict):
    """An alert policy on one metric: ``aggregation`` over ``window_s`` above ``threshold``.

    ``p50``/``p95``/``p99`` (the worst instance's percentile) apply to distributions, ``sum``
    (occurrences, all instances) to counters; ``where`` keeps only lines whose labels have these
    values."""

    description: str
    metric: str
    where: dict[str, str] = Field(default_factory=dict)
    aggregation: Literal["p50", "p95", "p99", "sum"]
    threshold: float
    window_s: int = Field(ge=60, le=86_400)


NEED_KINDS: dict[str, str | None] = {
    # kind -> the manifest section its resource names (None: the need takes no resource)
    "firestore.read": None,
    "firestore.write": None,  # includes reading
    "pubsub.publish": "topics",
    "tasks.enqueue": "queues",
    "secret": "secrets",
    "storage.read": "buckets",
    "storage.write": "buckets",  # includes reading
    "fcm.send": None,  # Firebase Cloud Messaging (push notifications)
}


class Need(_Strict):
    """What a function's code uses: ``kind`` or ``kind:resource`` (``pubsub.publish:race-events``)."""

    kind: str
    resource: str = ""

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, data: Any) -> Any:
        if isinstance(data, str):
            kind, _, resource = data.partition(":")
            return {"kind": kind, "resource": resource}
        return data

    @model_validator(mode="after")
    def _known(self) -> Need:
        if self.kind not in NEED_KINDS:
            raise ValueError(f"unknown need {self.kind!r} (known: {', '.join(NEED_KINDS)})")
        if bool(NEED_KINDS[self.kind]) != bool(self.resource):
            form = f"{self.kind}:<name>" if NEED_KINDS[self.kind] else self.kind
            raise ValueError(f"need {self} must be written {form}")
        return self

    def __str__(self) -> str:
        return f"{self.kind}:{self.resource}" if self.resource else self.kind


class Defaults(_Strict):
    runtime: str = "python311"
    region: str = "europe-west1"
    memory: str = "512Mi"
    timeout_s: int = 60
    max_instances: int = 20


class Function(_Strict):
    name: str = ""
    description: str = ""
    trigger: Trigger
    public: bool = False
    retry: bool = False
    memory: str | None = None
    timeout_s: int | None = Field(None, ge=1, le=3600)
    min_instances: int = 0
    max_instances: int | None = None
    needs: tuple[Need, ...] = ()

    @property
    def service_account_id(self) -> str:
        """The function's own service account id (also ``shared.tasks``' OIDC identity)."""
        return SA_PREFIX + self.name.replace("_", "-")

    def needs_of(self, kind: str) -> list[str]:
        """The resources of this function's ``kind`` needs (``[""]`` for a resource-less one)."""
        return [n.resource for n in self.needs if n.kind == kind]

    @property
    def signature_type(self) -> Literal["http", "cloudevent"]:
        return "cloudevent" if isinstance(self.trigger, TopicTrigger) else "http"


class Manifest(_Strict):
    defaults: Defaults = Defaults()
    topics: list[Topic] = Field(default_factory=list)
    queues: list[Queue] = Field(default_factory=list)
    scheduler: list[SchedulerJob] = Field(default_factory=list)
    secrets: list[Secret] = Field(default_factory=list)
    buckets: list[Bucket] = Field(default_factory=list)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    alerts: dict[str, Alert] = Field(default_factory=dict)
    functions: dict[str, Function]

    @model_validator(mode="before")
    @classmethod
    def _name_functions(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("functions"), dict):
            data = dict(data)
            data["functions"] = {
                key: {**(value or {}), "name": key} for key, value in data["functions"].items()
            }
        return data

    @model_validator(mode="after")
    def _references_resolve(self) -> Manifest:
        topics = {t.name for t in self.topics}
        queues = {q.name for q in self.queues}
        for name, fn in self.functions.items():
            if not _FUNCTION_NAME.match(name):
                raise ValueError(f"function name {name!r} must be lower_snake_case")
            if isinstance(fn.trigger, TopicTrigger) and fn.trigger.topic not in topics:
                raise ValueError(f"function {name}: unknown topic {fn.trigger.topic!r}")
            if isinstance(fn.trigger, QueueTrigger) and fn.trigger.queue not in queues:
                raise ValueError(f"function {name}: unknown queue {fn.trigger.queue!r}")
        for job in self.scheduler:
            if job.topic not in topics:
                raise ValueError(f"scheduler job {job.name}: unknown topic {job.topic!r}")
        for fn in self.functions.values():
            self._check_needs(fn)
        for name, alert in self.alerts.items():
            self._check_alert(name, alert)
        return self

    def _check_needs(self, fn: Function) -> None:
        names = {
            "topics": {t.name for t in self.topics},
            "queues": {q.name for q in self.queues},
            "secrets": {s.name for s in self.secrets},
            "buckets": {b.name for b in self.buckets},
        }
        if len(fn.service_account_id) > SA_ID_MAX:
            raise ValueError(
                f"function {fn.name}: service account {fn.service_account_id} is over 30 characters"
            )
        seen = [str(n) for n in fn.needs]
        if len(set(seen)) != len(seen):
            raise ValueError(f"function {fn.name}: a need is listed twice in {seen}")
        for need in fn.needs:
            section = NEED_KINDS[need.kind]
            if section and need.resource not in names[section]:
                raise ValueError(f"function {fn.name}: need {need}: no such {section[:-1]} in the manifest")
            if need.kind == "tasks.enqueue" and not self.queue_targets(need.resource):
                raise ValueError(f"function {fn.name}: need {need}: no function is triggered by that queue")
        # Least privilege: a need another one already includes is a second grant for nothing.
        for weaker, stronger in (("firestore.read", "firestore.write"), ("storage.read", "storage.write")):
            both = set(fn.needs_of(weaker)) & set(fn.needs_of(stronger))
            if both:
                raise ValueError(f"function {fn.name}: {stronger} already includes {weaker} ({both})")

    def _check_alert(self, name: str, alert: Alert) -> None:
        metric = self.metrics.get(alert.metric)
        if metric is None:
            raise ValueError(f"alert {name}: unknown metric {alert.metric!r}")
        if (alert.aggregation == "sum") != (metric.kind == "counter"):
            raise ValueError(f"alert {name}: {alert.aggregation} does not apply to a {metric.kind}")
        unknown = set(alert.where) - set(metric.labels)
        if unknown:
            raise ValueError(f"alert {name}: {alert.metric} has no label {sorted(unknown)}")

    def queue_targets(self, queue: str) -> list[Function]:
        """The functions Cloud Tasks on ``queue`` call."""
        return [
            fn
            for fn in self.functions.values()
            if isinstance(fn.trigger, QueueTrigger) and fn.trigger.queue == queue
        ]

    def secret(self, name: str) -> Secret:
        return next(s for s in self.secrets if s.name == name)

    def bucket(self, name: str) -> Bucket:
        return next(b for b in self.buckets if b.name == name)

    @cached_property
    def topic_names(self) -> list[str]:
        """Every topic to create, dead-letter topics included, in manifest order."""
        names: list[str] = []
        for topic in self.topics:
            names.append(topic.name)
            if topic.dead_letter_topic:
                names.append(topic.dead_letter_topic)
        return names

    def topic(self, name: str) -> Topic:
        return next(t for t in self.topics if t.name == name)

    def memory(self, fn: Function) -> str:
        return fn.memory or self.defaults.memory

    def timeout_s(self, fn: Function) -> int:
        return fn.timeout_s or self.defaults.timeout_s


def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    with path.open(encoding="utf-8") as fh:
        return Manifest.model_validate(yaml.safe_load(fh))


class EnvFunction(_Strict):
    min_instances: int | None = Field(None, ge=0, le=100)
    max_instances: int | None = Field(None, ge=1, le=1000)


class Environment(_Strict):
    """One deployment (``infra/env/<name>.yaml``): what differs from the manifest's defaults."""

    name: Literal["staging", "prod"]  # the PITLANE_ENV values that deploy (shared.config)
    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    region: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    functions: dict[str, EnvFunction] = Field(default_factory=dict)
    secrets: tuple[str, ...] = ()  # the optional secrets that have a value here
    notification_channels: tuple[str, ...] = ()

    def check(self, manifest: Manifest) -> Environment:
        unknown = set(self.functions) - set(manifest.functions)
        if unknown:
            raise ValueError(f"environment {self.name}: unknown functions {sorted(unknown)}")
        optional = {s.name for s in manifest.secrets if s.optional}
        if set(self.secrets) - optional:
            raise ValueError(
                f"environment {self.name}: {sorted(set(self.secrets) - optional)} are not optional secrets"
            )
        return self

    def mounted_secrets(self, manifest: Manifest, fn: Function) -> list[str]:
        """The secrets ``fn`` gets here: every required one it needs, the optional ones set here."""
        return sorted(
            s for s in fn.needs_of("secret") if not manifest.secret(s).optional or s in self.secrets
        )

    def region_or(self, manifest: Manifest) -> str:
        return self.region or manifest.defaults.region

    def min_instances(self, fn: Function) -> int:
        override = self.functions.get(fn.name)
        return (
            fn.min_instances if override is None or override.min_instances is None else override.min_instances
        )

    def max_instances(self, manifest: Manifest, fn: Function) -> int:
        override = self.functions.get(fn.name)
        if override is not None and override.max_instances is not None:
            return override.max_instances
        return fn.max_instances or manifest.defaults.max_instances


def environment_names(env_dir: Path = ENV_DIR) -> list[str]:
    return sorted(p.stem for p in env_dir.glob("*.yaml"))


def load_environment(name: str, manifest: Manifest, env_dir: Path = ENV_DIR) -> Environment:
    path = env_dir / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no environment {name!r} (known: {', '.join(environment_names(env_dir))})")
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    return Environment.model_validate({**data, "name": name}).check(manifest)


def load_environments(manifest: Manifest, env_dir: Path = ENV_DIR) -> dict[str, Environment]:
    """Every environment, prod last (its values are cloudbuild.yaml's defaults)."""
    names = sorted(environment_names(env_dir), key=lambda n: (n == "prod", n))
    return {name: load_environment(name, manifest, env_dir) for name in names}
