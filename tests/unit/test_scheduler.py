"""The local scheduler: cron maths (time zones, daylight saving) and the job API."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from infra.local.scheduler import JobSpec, Registry, create_app, next_fire_times


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_hourly_in_utc_fires_on_the_hour() -> None:
    times = next_fire_times("0 * * * *", "Etc/UTC", after=utc(2025, 5, 1, 10, 15), count=3)
    assert times == [utc(2025, 5, 1, 11), utc(2025, 5, 1, 12), utc(2025, 5, 1, 13)]


def test_fire_time_is_strictly_after() -> None:
    assert next_fire_times("0 * * * *", "Etc/UTC", after=utc(2025, 5, 1, 11)) == [utc(2025, 5, 1, 12)]


def test_schedule_is_wall_clock_in_the_jobs_time_zone() -> None:
    # 09:00 in Tokyo (UTC+9, no DST) is 00:00 UTC.
    assert next_fire_times("0 9 * * *", "Asia/Tokyo", after=utc(2025, 5, 1, 1)) == [utc(2025, 5, 2, 0)]
    # 09:00 in London is 08:00 UTC in summer and 09:00 UTC in winter.
    assert next_fire_times("0 9 * * *", "Europe/London", after=utc(2025, 7, 1))[0] == utc(2025, 7, 1, 8)
    assert next_fire_times("0 9 * * *", "Europe/London", after=utc(2025, 12, 1))[0] == utc(2025, 12, 1, 9)


def test_daily_job_across_spring_forward_fires_at_end_of_gap() -> None:
    # Europe/London skips 01:00-02:00 on 2025-03-30; a 01:30 job fires at 02:00 BST = 01:00 UTC.
    times = next_fire_times("30 1 * * *", "Europe/London", after=utc(2025, 3, 29, 12), count=3)
    assert times == [utc(2025, 3, 30, 1), utc(2025, 3, 31, 0, 30), utc(2025, 4, 1, 0, 30)]


def test_daily_job_across_fall_back_fires_at_both_occurrences() -> None:
    # 01:00-02:00 happens twice on 2025-10-26 in London (BST then GMT).
    times = next_fire_times("30 1 * * *", "Europe/London", after=utc(2025, 10, 25, 12), count=3)
    assert times == [utc(2025, 10, 26, 0, 30), utc(2025, 10, 26, 1, 30), utc(2025, 10, 27, 1, 30)]


def test_hourly_job_keeps_one_hour_steps_in_utc_across_dst() -> None:
    times = next_fire_times("0 * * * *", "Europe/London", after=utc(2025, 3, 29, 23, 30), count=4)
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(hours=1)] * 3


@pytest.mark.parametrize("schedule", ["* * * *", "61 * * * *", "every hour", "0 0 * * * *"])
def test_invalid_schedules_are_refused(schedule: str) -> None:
    with pytest.raises(ValueError, match="cron"):
        next_fire_times(schedule, "Etc/UTC", after=utc(2025, 1, 1))


def test_unknown_time_zone_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        next_fire_times("0 * * * *", "Mars/Olympus", after=utc(2025, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        next_fire_times("0 * * * *", "Etc/UTC", after=datetime(2025, 1, 1))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_registry_fires_due_jobs_once_without_backfill() -> None:
    clock = Clock(utc(2025, 5, 1, 10, 15))
    published: list[tuple[str, bytes]] = []

    def publish(topic: str, data: bytes) -> str:
        published.append((topic, data))
        return str(len(published))

    registry = Registry(publish, now=clock)
    job, created = registry.put(
        "tick", JobSpec(schedule="0 * * * *", topic="schedule-tick", payload={"a": 1})
    )
    assert created and job.next_run == utc(2025, 5, 1, 11)
    assert registry.due() == []

    clock.now = utc(2025, 5, 1, 13, 30)  # two fire times missed while "asleep": fire once only
    due = registry.due()
    assert [j.name for j in due] == ["tick"]
    assert job.next_run == utc(2025, 5, 1, 14)
    assert registry.run(due[0]) == "1"
    assert published == [("schedule-tick", b'{"a":1}')]
    assert job.runs == 1 and job.last_run == clock.now
    assert registry.due() == []


def test_api_put_get_list_run_delete() -> None:
    published: list[tuple[str, bytes]] = []

    def publish(topic: str, data: bytes) -> str:
        published.append((topic, data))
        return "m-1"

    app = create_app(Registry(publish), run_loop=False)
    body = {"schedule": "0 * * * *", "time_zone": "Etc/UTC", "topic": "schedule-tick", "payload": {"r": "x"}}
    with TestClient(app) as client:
        assert client.put("/jobs/sync", json=body).status_code == 201
        assert client.put("/jobs/sync", json=body).status_code == 200
        got = client.get("/jobs/sync").json()
        assert got["schedule"] == "0 * * * *" and got["topic"] == "schedule-tick" and got["runs"] == 0
        assert [j["name"] for j in client.get("/jobs").json()["jobs"]] == ["sync"]

        ran = client.post("/jobs/sync:run")
        assert ran.status_code == 200 and ran.json()["message_id"] == "m-1"
        assert published == [("schedule-tick", b'{"r":"x"}')]
        assert client.get("/jobs/sync").json()["runs"] == 1

        assert client.put("/jobs/bad", json={**body, "schedule": "nope"}).status_code == 400
        assert client.delete("/jobs/sync").status_code == 200
        assert client.get("/jobs/sync").status_code == 404
        assert client.post("/jobs/sync:run").status_code == 404
        assert client.get("/healthz").json()["status"] == "ok"


def test_api_run_reports_publish_failure_as_502() -> None:
    def publish(topic: str, data: bytes) -> str:
        raise RuntimeError("topic not found")

    with TestClient(create_app(Registry(publish), run_loop=False)) as client:
        client.put("/jobs/sync", json={"schedule": "0 * * * *", "topic": "nowhere"})
        resp = client.post("/jobs/sync:run")
        assert resp.status_code == 502 and "topic not found" in resp.json()["error"]
        assert client.get("/jobs/sync").json()["last_error"].startswith("RuntimeError")
