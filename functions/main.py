"""Every deployed entry point, by the name it is deployed under (the manifest key).

Cloud Functions loads ``main.py`` at the root of the source bundle; the bundle's ``main.py`` takes
``__all__`` and ``__getattr__`` from here (see ``infra/deploy.py``). Locally:
``functions-framework --source functions/main.py --target <name>``.

Each entry point lives in ``functions/<name>.py`` and is imported only when asked for
(functions-framework looks the target up with ``getattr``; PEP 562 module ``__getattr__``), so an
instance loads its own function's dependencies and nobody else's: the ``api`` cold start does not
pay for Pub/Sub, FastF1 or NumPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "api",
    "import_session",
    "notify",
    "notify_import_events",
    "notify_race_events",
    "notify_schedule_events",
    "plan_imports",
    "poll_openf1_live",
    "predict",
    "record_live_timing",
    "sync_schedule",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(f"functions.{name}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
