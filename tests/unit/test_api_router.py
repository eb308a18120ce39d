"""The route table, parameter messages, cursors, entity tags, the answer cache and the OpenAPI
document, without a web framework."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

import pytest
from annotated_types import Ge, Le
from pydantic import BaseModel, Field

from shared.api import cursor
from shared.api.cache import TtlCache
from shared.api.etag import etag_of, matches
from shared.api.openapi import document
from shared.api.params import STRICT, Params
from shared.api.problem import ApiError, problem_for
from shared.api.router import HISTORY, Call, RouteTable, query_dict, validate
from shared.errors import BadRequestError, ConfigError, NotFoundError


class ItemPath(Params):
    item_id: Annotated[str, Field(pattern=r"^[a-z]{1,8}$")] = Field(description="a lowercase id")


class ItemQuery(Params):
    lap: Annotated[int, Ge(1), Le(200), STRICT] | None = Field(None, description="a lap number")


class Item(BaseModel):
    item_id: str


def _table() -> RouteTable:
    table = RouteTable()

    @table.get("/api/items/current", response=Item)
    def current(call: Call) -> Item:
        """The current item."""
        return Item(item_id="now")

    @table.get("/api/items/{item_id}", response=Item, path=ItemPath, query=ItemQuery, cache=HISTORY)
    def item(call: Call) -> Item:
        """One item.

        Longer text."""
        return Item(item_id=call.path.item_id)

    return table


def test_literal_segments_win_and_methods_are_checked() -> None:
    table = _table()
    route, params = table.match("GET", "/api/items/current/")
    assert route.operation_id == "current" and params == {}
    route, params = table.match("HEAD", "/api/items/abc")
    assert route.operation_id == "item" and params == {"item_id": "abc"}
    with pytest.raises(ApiError) as not_allowed:
        table.match("POST", "/api/items/abc")
    assert not_allowed.value.status == 405 and not_allowed.value.headers == {"Allow": "GET, HEAD"}
    with pytest.raises(ApiError) as missing:
        table.match("GET", "/api/things")
    assert missing.value.status == 404


def test_parameter_messages_name_the_parameter_and_the_value() -> None:
    cases = {
        "x": "query parameter 'lap' must be an integer, got 'x'",
        "1.0": "query parameter 'lap' must be an integer, got '1.0'",
        "0": "query parameter 'lap' must be between 1 and 200, got '0'",
    }
    for raw, message in cases.items():
        with pytest.raises(ApiError) as exc:
            validate(ItemQuery, {"lap": raw}, "query")
        assert exc.value.detail == message and exc.value.errors and exc.value.errors[0].name == "lap"
    with pytest.raises(ApiError) as bad_path:
        validate(ItemPath, {"item_id": "ABC"}, "path")
    assert bad_path.value.detail == "path parameter 'item_id' must be a lowercase id, got 'ABC'"
    assert validate(ItemQuery, {"lap": "12"}, "query").lap == 12
    with pytest.raises(ApiError, match="must be given once"):
        query_dict([("lap", "1"), ("lap", "2")], ItemQuery)
    assert query_dict([("lap", "1"), ("_", "cache-buster")], ItemQuery) == {"lap": "1"}


def test_cursor_pages_walk_the_list_once() -> None:
    items = list(range(25))
    seen, token = [], None
    while True:
        chunk, token = cursor.page(items, key=lambda i: (i,), limit=10, cursor=token, filters={"f": 1})
        seen += chunk
        if token is None:
            break
    assert seen == items
    _, first = cursor.page(items, key=lambda i: (i,), limit=10, cursor=None, filters={"f": 1})
    assert first is not None
    with pytest.raises(ApiError, match="other filters"):
        cursor.page(items, key=lambda i: (i,), limit=10, cursor=first, filters={"f": 2})
    with pytest.raises(ApiError, match="not a cursor"):
        cursor.decode("!!not-base64!!", {})


def test_etags_and_if_none_match() -> None:
    tag = etag_of(b'{"a":1}')
    assert tag.startswith('"') and tag != etag_of(b'{"a":2}')
    assert matches(tag, tag) and matches(f'"x", W/{tag}', tag) and matches("*", tag)
    assert not matches(None, tag) and not matches('"other"', tag)


def test_cache_computes_once_for_concurrent_callers_and_expires() -> None:
    now = [0.0]
    cache: TtlCache[int] = TtlCache(clock=lambda: now[0])
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return len(calls)

    threads = [threading.Thread(target=cache.get_or_compute, args=("k", 5.0, slow)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and cache.get_or_compute("k", 5.0, slow) == 1
    now[0] = 6.0
    assert cache.get_or_compute("k", 5.0, slow) == 2
    with pytest.raises(ZeroDivisionError):
        cache.get_or_compute("err", 5.0, lambda: 1 // 0)
    assert cache.get_or_compute("err", 5.0, lambda: 7) == 7  # an error is not cached


def test_problems_from_errors() -> None:
    assert problem_for(NotFoundError("no race 'x'"))[0].status == 404
    assert problem_for(BadRequestError("bad"))[0].status == 400
    assert problem_for(ConfigError("PITLANE_DATA_DIR is not set"))[0].status == 503
    hidden, _ = problem_for(RuntimeError("secret internals"))
    assert hidden.status == 500 and "secret" not in hidden.detail


def test_openapi_document_from_the_table() -> None:
    doc: dict[str, Any] = document(_table(), title_="t", version="1")
    assert doc["openapi"] == "3.1.0"
    op = doc["paths"]["/api/items/{item_id}"]["get"]
    assert op["summary"] == "One item." and op["description"] == "Longer text."
    params = {p["name"]: p for p in op["parameters"]}
    assert params["item_id"]["required"] and params["item_id"]["schema"]["pattern"] == "^[a-z]{1,8}$"
    assert params["lap"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert not params["lap"]["required"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }
    assert set(op["responses"]) >= {"200", "304", "400", "404", "405", "413"}
    problem = op["responses"]["404"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert {"Item", "Problem", "ParamIssue"} <= set(doc["components"]["schemas"])


def test_stale_answer_served_while_one_caller_refreshes() -> None:
    now = [0.0]
    cache: TtlCache[str] = TtlCache(clock=lambda: now[0])
    assert cache.get_or_compute("k", 1.0, lambda: "v1") == "v1"
    now[0] = 1.5  # stale: past its 1 s, within the next 1 s
    started, release = threading.Event(), threading.Event()

    def refresh() -> str:
        started.set()
        release.wait(5)
        return "v2"

    refresher = threading.Thread(target=cache.get_or_compute, args=("k", 1.0, refresh))
    refresher.start()
    started.wait(5)
    assert cache.get_or_compute("k", 1.0, lambda: "never") == "v1"  # not queued behind the refresh
    release.set()
    refresher.join()
    assert cache.get_or_compute("k", 1.0, lambda: "never") == "v2"
    now[0] = 10.0  # past the stale window too: computed before answering
    assert cache.get_or_compute("k", 1.0, lambda: "v3") == "v3"
