"""OpenF1 (api.openf1.org): models, parsing, query filters and the rate limiter, all pure.

The HTTP transport is :mod:`shared.sources.openf1` (``OpenF1Client``); it returns raw records,
which :func:`parse` / :func:`parse_as` turn into the models here.
"""

from shared.openf1.limiter import SlidingWindowLimiter, Window, windows_for
from shared.openf1.models import ENDPOINT_MODELS, OpenF1Record
from shared.openf1.parse import Parsed, parse, parse_as
from shared.openf1.query import Filter, between, build_query, q

__all__ = [
    "ENDPOINT_MODELS",
    "Filter",
    "OpenF1Record",
    "Parsed",
    "SlidingWindowLimiter",
    "Window",
    "between",
    "build_query",
    "parse",
    "parse_as",
    "q",
    "windows_for",
]
