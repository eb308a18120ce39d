"""``notify_import_events``: on every ``import-events`` message (a gap-import run's summary), post
it to the ops Slack webhook (``PITLANE_SLACK_WEBHOOK_URL``), once per run
(``shared.services.notify_ops``). Without a webhook set it returns before any client is built."""

from __future__ import annotations

import functions_framework
from cloudevents.http import CloudEvent

from functions import _runtime
from shared.notify.render import ImportSummary
from shared.services.notify_ops import on_import_summary


@functions_framework.cloud_event
@_runtime.event_function
def notify_import_events(event: CloudEvent) -> None:
    summary = _runtime.pubsub_payload(event, ImportSummary)
    if _runtime.settings().slack_webhook_url is None:
        return
    on_import_summary(
        summary,
        db=_runtime.db(),
        http=_runtime.http(),
        settings=_runtime.settings(),
        publisher=_runtime.publisher(),
    )
