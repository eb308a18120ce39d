"""``notify``: the Cloud Tasks target of notifications (queue ``reminders``), and what the
``notify_*`` event functions share.

Bodies (:class:`shared.services.notify.NotifyTask`):

* ``{"kind": "reminder", "session_id", "start_utc"}``: planned by the schedule sync at the session
  start minus the longest reminder lead; subscribers with a shorter lead are held until theirs;
* ``{"kind": "deliver", ...}``: a notification held back by quiet hours or a reminder lead, due.

Answers 200 with a :class:`~shared.services.notify.NotifyReport`; 503 on a transient failure
(Cloud Tasks retries); a bad body is acknowledged for Cloud Tasks (200 ``dropped``) and 400 for a
direct caller. The event functions on ``race-events``, ``schedule-events`` and ``import-events``
are ``notify_race_events``, ``notify_schedule_events`` and ``notify_import_events``
(``docs/decisions/0004-notifications.md``: a 2nd-gen function has one trigger).
"""

from __future__ import annotations

from typing import Any

import flask
import functions_framework
from pydantic import BaseModel

from functions import _runtime
from shared.services import notify as service
from shared.services.notify_delivery import fcm_sender


def deps() -> service.NotifyDeps:
    """Notify's dependencies, built lazily once per instance (clients are cached)."""
    settings = _runtime.settings()
    return service.NotifyDeps(
        db=_runtime.db(),
        http=_runtime.http(),
        settings=settings,
        publisher=_runtime.publisher(),
        fcm=fcm_sender(settings),
    )


def _run(task: Any) -> BaseModel:
    return service.on_task(task.root, deps())


@functions_framework.http
def notify(request: flask.Request) -> flask.Response:
    _runtime.settings()
    return _runtime.run_task(request, function="notify", model=service.NotifyTask, run=_run)
