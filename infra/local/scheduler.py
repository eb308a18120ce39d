"""The local stand-in for Cloud Scheduler: a small HTTP service that publishes jobs to Pub/Sub.

Cloud Scheduler has no Google emulator, so the local stack runs this service instead. Its REST API
mirrors the subset Pitlane uses (Pub/Sub targets only):

* ``PUT /jobs/{name}`` registers or replaces a job (body: :class:`JobSpec`); 201 when new, 200 when
  replaced.
* ``GET /jobs/{name}``, ``GET /jobs``, ``DELETE /jobs/{name}``.
* ``POST /jobs/{name}:run`` fires the job now (Cloud Scheduler's ``RunJob``) and answers with the
  Pub/Sub message id.
* ``GET /healthz`` answers ``{"status": "ok"}``.

A loop fires every job at its cron times, evaluated in the job's time zone, by publishing the job's
payload (JSON) to its topic on the Pub/Sub emulator. Jobs live in memory: ``pitlane provision``
registers them again after the stack starts. Like Cloud Scheduler, a fire time missed while the
process was stopped or busy is not back-filled: the job fires once and moves on.

The cron maths (:func:`next_fire_times`) is pure and unit-tested. Time zones and daylight saving
follow croniter, which matches Cloud Scheduler's "wall clock" semantics: a wall time that does not
exist (clocks go forward) fires at the end of the gap; a wall time that happens twice (clocks go
back) fires at both occurrences. Cloud Scheduler's docs only promise "anomalies" there and recommend
UTC, which is what Pitlane's manifest uses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger("pitlane.scheduler")

# How often the loop wakes at most; a job fires within this long after its time.
TICK_S = 0.5

# (topic, data) -> message id. Blocking; the service runs it in a worker thread.
Publish = Callable[[str, bytes], str]


def zone(time_zone: str) -> ZoneInfo:
    """The IANA zone named ``time_zone``; ``ValueError`` when unknown."""
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {time_zone!r}") from None


def validate_schedule(schedule: str) -> str:
    """A five-field unix-cron schedule, as Cloud Scheduler accepts; ``ValueError`` otherwise."""
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise ValueError(f"invalid cron schedule {schedule!r} (want five unix-cron fields)")
    return schedule


def next_fire_times(schedule: str, time_zone: str, *, after: datetime, count: int = 1) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after`` (aware), as aware UTC datetimes.

    ``schedule`` is read as wall-clock time in ``time_zone``; see the module docstring for what
    happens on daylight-saving changes.
    """
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    validate_schedule(schedule)
    it = croniter(schedule, after.astimezone(zone(time_zone)))
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


class JobSpec(BaseModel):
    """A job as registered through the API: a Pub/Sub target with a JSON payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str
    time_zone: str = "Etc/UTC"
    topic: str = Field(min_length=3, description="topic id in the emulator's project")
    payload: dict[str, Any] = Field(default_factory=dict)
    description: str = ""

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return validate_schedule(value)

    @model_validator(mode="after")
    def _zone(self) -> JobSpec:
        zone(self.time_zone)
        return self

    def data(self) -> bytes:
        return json.dumps(self.payload, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Job:
    name: str
    spec: JobSpec
    next_run: datetime
    last_run: datetime | None = None
    runs: int = 0
    last_error: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.spec.model_dump(),
            "next_run": self.next_run.isoformat(),
            "last_run": self.last_run.isoformat() if self.last_run else None,
            "runs": self.runs,
            "last_error": self.last_error,
        }


class Registry:
    """Jobs by name; thread-safe because publishing happens in worker threads."""

    def __init__(self, publish: Publish, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._publish = publish
        self._now = now
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def put(self, name: str, spec: JobSpec) -> tuple[Job, bool]:
        next_run = next_fire_times(spec.schedule, spec.time_zone, after=self._now())[0]
        with self._lock:
            created = name not in self._jobs
            job = Job(name=name, spec=spec, next_run=next_run)
            if not created and self._jobs[name].spec == spec:
                job = self._jobs[name]  # unchanged: keep its run history
            self._jobs[name] = job
        return job, created

    def get(self, name: str) -> Job | None:
        with self._lock:
            return self._jobs.get(name)

    def delete(self, name: str) -> bool:
        with self._lock:
            return self._jobs.pop(name, None) is not None

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.name)

    def run(self, job: Job) -> str:
        """Publish ``job``'s payload now; returns the message id (errors propagate)."""
        fired = self._now()
        try:
            message_id = self._publish(job.spec.topic, job.spec.data())
        except Exception as exc:
            job.last_error = f"{type(exc).__name__}: {exc}"
            raise
        job.last_run, job.runs, job.last_error = fired, job.runs + 1, None
        log.info("fired %s -> %s (message %s)", job.name, job.spec.topic, message_id)
        return message_id

    def due(self) -> list[Job]:
        """Jobs whose time has come; each is moved on to its next fire time after now."""
        now = self._now()
        out = []
        with self._lock:
            for job in self._jobs.values():
                if job.next_run <= now:
                    job.next_run = next_fire_times(job.spec.schedule, job.spec.time_zone, after=now)[0]
                    out.append(job)
        return out


async def _loop(registry: Registry) -> None:
    while True:
        for job in registry.due():
            try:
                await asyncio.to_thread(registry.run, job)
            except Exception:
                log.exception("job %s failed to publish", job.name)
        await asyncio.sleep(TICK_S)


def create_app(registry: Registry, *, run_loop: bool = True) -> Starlette:
    """The scheduler's HTTP API over ``registry`` (the loop runs while the app is served)."""

    def _missing(name: str) -> JSONResponse:
        return JSONResponse({"error": f"job {name!r} not found"}, status_code=404)

    async def put_job(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        try:
            spec = JobSpec.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            return JSONResponse({"error": str(exc).splitlines()[0]}, status_code=400)
        job, created = registry.put(name, spec)
        return JSONResponse(job.public(), status_code=201 if created else 200)

    async def get_job(request: Request) -> JSONResponse:
        job = registry.get(request.path_params["name"])
        return JSONResponse(job.public()) if job else _missing(request.path_params["name"])

    async def delete_job(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        return JSONResponse({"deleted": name}) if registry.delete(name) else _missing(name)

    async def list_jobs(request: Request) -> JSONResponse:
        return JSONResponse({"jobs": [job.public() for job in registry.all()]})

    async def run_job(request: Request) -> JSONResponse:
        job = registry.get(request.path_params["name"])
        if job is None:
            return _missing(request.path_params["name"])
        try:
            message_id = await asyncio.to_thread(registry.run, job)
        except Exception as exc:
            return JSONResponse({"error": job.last_error or str(exc)}, status_code=502)
        return JSONResponse({"name": job.name, "topic": job.spec.topic, "message_id": message_id})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "jobs": len(registry.all())})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_loop(registry)) if run_loop else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        # ``:run`` first: ``/jobs/{name}`` would otherwise swallow ``x:run`` as a name.
        Route("/jobs/{name}:run", run_job, methods=["POST"]),
        Route("/jobs/{name}", put_job, methods=["PUT"]),
        Route("/jobs/{name}", get_job, methods=["GET"]),
        Route("/jobs/{name}", delete_job, methods=["DELETE"]),
        Route("/jobs", list_jobs, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def pubsub_publisher(project: str, emulator_host: str) -> Publish:
    """A blocking publish to ``projects/<project>/topics/<topic>`` on the Pub/Sub emulator."""
    import grpc
    from google.cloud import pubsub_v1
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    client = pubsub_v1.PublisherClient(
        transport=PublisherGrpcTransport(channel=grpc.insecure_channel(emulator_host))
    )

    def publish(topic: str, data: bytes) -> str:
        future = client.publish(f"projects/{project}/topics/{topic}", data)
        return str(future.result(timeout=10))

    return publish


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from shared.config import load_settings

    parser = argparse.ArgumentParser(prog="python -m infra.local.scheduler")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = load_settings()
    if not settings.pubsub_emulator_host:
        # The local scheduler must never publish to a real project.
        parser.error("PUBSUB_EMULATOR_HOST is not set")
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    registry = Registry(pubsub_publisher(settings.project, settings.pubsub_emulator_host))
    uvicorn.run(create_app(registry), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
