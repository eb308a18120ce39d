"""Every deployed entry point, by the name it is deployed under (the manifest key).

Cloud Functions loads ``main.py`` at the root of the source bundle; the bundle's ``main.py`` is
this module re-exported (see ``infra/deploy.py``). Locally: ``functions-framework --source
functions/main.py --target <name>``.
"""

from functions.api import api
from functions.import_session import import_session
from functions.notify import notify
from functions.notify_import_events import notify_import_events
from functions.notify_race_events import notify_race_events
from functions.notify_schedule_events import notify_schedule_events
from functions.plan_imports import plan_imports
from functions.predict import predict
from functions.poll_openf1_live import poll_openf1_live
from functions.record_live_timing import record_live_timing
from functions.sync_schedule import sync_schedule

__all__ = [
    "api",
    "import_session",
    "notify",
    "notify_import_events",
    "notify_race_events",
    "notify_schedule_events",
    "plan_imports",
    "predict",
    "poll_openf1_live",
    "record_live_timing",
    "sync_schedule",
]
