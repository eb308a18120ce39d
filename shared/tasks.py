"""Cloud Tasks: enqueue an HTTP call to one of Pitlane's functions, with a deterministic name.

A named task is created at most once by Cloud Tasks (``ALREADY_EXISTS`` for a repeat, which is
taken as success), so a handler retried by its queue never fans out twice. The local emulator
does not de-duplicate names (see tests/emulators.py); idempotent handlers cover that.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from shared.config import Settings
from shared.gcp import queue_path, tasks_client

log = logging.getLogger(__name__)
_NAME = re.compile(r"[^A-Za-z0-9_-]")


def task_name(*parts: object) -> str:
    """A valid task id from ``parts`` (letters, digits, ``-`` and ``_``; at most 500 characters)."""
    return _NAME.sub("-", "-".join(str(p) for p in parts))[:500]


def enqueue_http(
    settings: Settings,
    *,
    queue: str,
    function: str,
    body: dict[str, Any],
    name: str | None = None,
    schedule_time: datetime | None = None,
) -> str | None:
    """Queue a POST of ``body`` (JSON) to ``function``; returns the task name, None if it existed."""
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import tasks_v2
    from google.protobuf import timestamp_pb2

    parent = queue_path(settings, queue)
    request: dict[str, Any] = {
        "http_method": tasks_v2.HttpMethod.POST,
        "url": settings.function_url(function),
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body).encode(),
    }
    if not settings.tasks_emulator_host:
        # Cloud Run verifies this token; the function is deployed without public access.
        sa = f"pitlane-{function.replace('_', '-')}@{settings.project}.iam.gserviceaccount.com"
        request["oidc_token"] = {"service_account_email": sa}
    task: dict[str, Any] = {"http_request": request}
    if name:
        task["name"] = f"{parent}/tasks/{name}"
    if schedule_time is not None:
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(schedule_time)
        task["schedule_time"] = stamp
    try:
        created = tasks_client(settings).create_task(parent=parent, task=tasks_v2.Task(task))
    except AlreadyExists:
        log.info("task %s already queued", name)
        return None
    return str(created.name)
