"""The deploy manifest (``infra/manifest.yaml``) as typed models.

Everything that provisions, deploys or runs Pitlane reads the manifest through ``load_manifest``:
the local stack, ``pitlane provision``, ``pitlane deploy`` and the cloudbuild.yaml renderer.
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

    @property
    def signature_type(self) -> Literal["http", "cloudevent"]:
        return "cloudevent" if isinstance(self.trigger, TopicTrigger) else "http"


class Manifest(_Strict):
    defaults: Defaults = Defaults()
    topics: list[Topic] = Field(default_factory=list)
    queues: list[Queue] = Field(default_factory=list)
    scheduler: list[SchedulerJob] = Field(default_factory=list)
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
        return self

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
