"""A tiny CloudEvent function for tests: records every event it receives.

Tests reach the recorded events through the module object that functions-framework loaded
(``tests.function.conftest.load_function(...).module.RECEIVED``).

A message whose attribute ``fail_times`` is ``N`` makes the function raise on its first ``N``
deliveries (a transient error: functions-framework answers 500 and Pub/Sub redelivers).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import functions_framework

RECEIVED: list[Any] = []
_deliveries: Counter[str] = Counter()
_lock = threading.Lock()


class TransientError(RuntimeError):
    """Raised on purpose so the caller retries."""


@functions_framework.cloud_event
def record(cloud_event: Any) -> None:
    message = (cloud_event.data or {}).get("message", {})
    fail_times = int(message.get("attributes", {}).get("fail_times", 0))
    with _lock:
        _deliveries[cloud_event["id"]] += 1
        attempt = _deliveries[cloud_event["id"]]
        if attempt <= fail_times:
            raise TransientError(f"delivery {attempt} of {cloud_event['id']} fails on purpose")
        RECEIVED.append(cloud_event)
