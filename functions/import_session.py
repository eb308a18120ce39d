"""``import_session``: import one finished session with FastF1 (Cloud Tasks HTTP target, queue
``imports``).

Body: :class:`shared.services.session_import.ImportRequest` as JSON. Answers 200 with the
:class:`~shared.services.session_import.ImportResult` (a ``partial`` session included: the gap
planner asks again for its failed types). Transient failures (quota used up this hour, every type
failed, Firestore unavailable) answer 503 so Cloud Tasks retries. A bad body is permanent: a direct
caller gets 400 problem JSON; a Cloud Tasks delivery (``X-CloudTasks-*`` headers) is acknowledged
with 200 and logged, since retrying cannot fix it.
"""

from __future__ import annotations

import flask
import functions_framework

from functions import _runtime


@functions_framework.http
def import_session(request: flask.Request) -> flask.Response:
    settings = _runtime.settings()
    # FastF1 and pandas load here, not at import: functions/main.py imports every entry point,
    # and the other functions' cold starts must not pay for them.
    from shared.services.session_import import ImportRequest
    from shared.services.session_import import import_session as run_import

    return _runtime.run_task(
        request,
        function="import_session",
        model=ImportRequest,
        run=lambda req: run_import(req, db=_runtime.db(), settings=settings),
    )
