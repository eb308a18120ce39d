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

import logging

import flask
import functions_framework
from pydantic import ValidationError

from functions import _runtime
from shared.errors import PermanentError, TransientError

log = logging.getLogger("pitlane.import_session")


@functions_framework.http
def import_session(request: flask.Request) -> flask.Response:
    settings = _runtime.settings()
    if request.method != "POST":
        return _runtime.problem(405, "Method Not Allowed", "POST an ImportRequest as JSON")
    # FastF1 and pandas load here, not at import: functions/main.py imports every entry point,
    # and the other functions' cold starts must not pay for them.
    from shared.services.session_import import ImportRequest
    from shared.services.session_import import import_session as run_import

    try:
        req = ImportRequest.model_validate_json(request.get_data() or b"{}")
    except ValidationError as exc:
        return _runtime.task_permanent_error(
            request, str(exc).splitlines()[0] + ": " + str(exc.errors()[0]["msg"]), function="import_session"
        )
    try:
        result = run_import(req, db=_runtime.db(), settings=settings)
    except PermanentError as exc:
        return _runtime.task_permanent_error(request, str(exc), function="import_session")
    except TransientError as exc:
        log.warning("import_session: transient failure, Cloud Tasks retries: %s", exc)
        return _runtime.problem(503, "Service Unavailable", str(exc))
    return flask.jsonify(result.model_dump(mode="json"))
