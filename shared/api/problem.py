"""Problem details (RFC 9457, ``application/problem+json``) and the errors that become them.

Every error the API answers is one :class:`Problem`: ``type`` is ``about:blank`` (the status says
what happened), ``title`` the status phrase, ``detail`` one sentence for a person, and ``errors``
one entry per invalid parameter (``where`` is ``path``, ``query``, ``header`` or ``body``). The
caller's mistakes are 4xx; a 5xx means a bug or an outage, never bad input.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BadRequestError, ConfigError, NotFoundError, PermanentError

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ParamIssue(BaseModel):
    """One invalid parameter."""

    model_config = ConfigDict(extra="forbid")

    where: Literal["path", "query", "header", "body"]
    name: str = Field(description="the parameter's name ('' for the body as a whole)")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(default="about:blank", description="a URI naming the problem type")
    title: str = Field(description="the HTTP status phrase, e.g. 'Not Found'")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="what went wrong, for a person")
    instance: str | None = Field(default=None, description="the request path")
    errors: list[ParamIssue] | None = Field(default=None, description="one entry per invalid parameter")


class ApiError(PermanentError):
    """An error with its HTTP status (4xx); optional per-parameter issues and response headers."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[ParamIssue] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_for(exc: Exception, *, instance: str | None = None) -> tuple[Problem, dict[str, str]]:
    """The problem document and extra headers for an error raised by a handler.

    ``NotFoundError`` is 404, any other ``PermanentError`` (``BadRequestError``...) 400; anything
    else is a 500 whose detail says nothing about internals (a ``ConfigError``, a deployment without
    what the route needs, is a 503).
    """
    status, detail, errors, headers = 500, "the server failed to answer; the error is logged", None, {}
    if isinstance(exc, ApiError):
        status, detail, errors, headers = exc.status, exc.detail, exc.errors, exc.headers
    elif isinstance(exc, NotFoundError):
        status, detail = 404, str(exc)
    elif isinstance(exc, BadRequestError | PermanentError):
        status, detail = 400, str(exc)
    elif isinstance(exc, ConfigError):  # e.g. no reference data folder: this deployment lacks it
        status, detail = 503, str(exc)
    problem = Problem(title=title(status), status=status, detail=detail, instance=instance, errors=errors)
    return problem, headers
