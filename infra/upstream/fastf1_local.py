"""Point FastF1 (3.9) at the local upstream server instead of the internet.

FastF1 keeps its hosts in module globals, read at request time:

* ``fastf1._api.base_url`` (``https://livetiming.formula1.com``): FastF1 appends
  ``/static/<year>/...``, so the server ROOT is the right value (our ``/static`` route);
  ``fastf1._api.base_url_mirror`` (``https://livetiming-mirror.fastf1.dev``) is tried after any
  response >= 400, so it must point here too or a 404 becomes a network call;
* ``fastf1.ergast.interface.BASE_URL`` (``https://api.jolpi.ca/ergast/f1``), and its by-value copy
  ``fastf1.ergast.legacy.base_url``;
* ``fastf1.events._SCHEDULE_BASE_URL`` (raw.githubusercontent.com f1schedule folder, with ``/``);
* ``fastf1.mvapi.api.PROTO`` / ``HOST`` (``https`` / ``api.multiviewer.app``; circuit info at
  ``/api/v1/circuits/<key>/<year>``);
* the live client's ``SignalRClient._negotiate_url`` / ``_connection_url``
  (``https://.../signalrcore/negotiate``, ``wss://.../signalrcore``).

FastF1's HTTP cache (requests-cache) is sent to ``cache_dir`` so nothing lands in the user's
cache and a fresh directory means every file is really fetched from the server.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit


def point_fastf1_at(base_url: str, cache_dir: Path) -> None:
    """Make FastF1 read every upstream from the server at ``base_url`` (its root, no trailing /)."""
    import fastf1
    import fastf1._api
    import fastf1.ergast.interface
    import fastf1.ergast.legacy
    import fastf1.events
    import fastf1.livetiming.client
    import fastf1.mvapi.api

    root = base_url.rstrip("/")
    parts = urlsplit(root)
    fastf1._api.base_url = root
    fastf1._api.base_url_mirror = root
    fastf1.ergast.interface.BASE_URL = f"{root}/ergast/f1"
    fastf1.ergast.legacy.base_url = f"{root}/ergast/f1"
    fastf1.events._SCHEDULE_BASE_URL = f"{root}/f1schedule/"
    fastf1.mvapi.api.PROTO = parts.scheme
    fastf1.mvapi.api.HOST = parts.netloc
    client = fastf1.livetiming.client.SignalRClient
    client._negotiate_url = f"{root}/signalrcore/negotiate"
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    client._connection_url = f"{ws_scheme}://{parts.netloc}{parts.path}/signalrcore"
    cache_dir.mkdir(parents=True, exist_ok=True)
    fastf1.Cache.configure(cache_dir=str(cache_dir))
    fastf1.Cache.offline_mode(False)
