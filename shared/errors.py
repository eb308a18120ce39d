"""One flat exception hierarchy for Pitlane.

Error policy (see README, "Retry policy"):

* ``TransientError`` and subclasses: the operation may succeed if repeated (timeouts, 5xx, 429).
  Handlers let them propagate so Pub/Sub and Cloud Tasks redeliver.
* ``PermanentError`` and subclasses: repeating cannot help (bad payload, unknown id). Event
  handlers log, count and acknowledge them; HTTP handlers turn them into 4xx problem JSON.
* ``ConfigError``: the process cannot start; the CLI prints one line and exits non-zero.
"""

from __future__ import annotations


class PitlaneError(Exception):
    """Base of every error Pitlane raises on purpose."""


class ConfigError(PitlaneError):
    """Settings are missing or invalid; the message is one line naming the problem."""


class TransientError(PitlaneError):
    """A retry may succeed: upstream timeouts, 5xx, 429 (rate limited)."""


class RateLimitedError(TransientError):
    """Upstream answered 429; ``retry_after`` is in seconds when the server said so."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(PitlaneError):
    """Repeating cannot help: the input itself is wrong."""


class BadRequestError(PermanentError):
    """The caller's input is invalid (HTTP 400/422)."""


class NotFoundError(PermanentError):
    """The resource does not exist (HTTP 404)."""
