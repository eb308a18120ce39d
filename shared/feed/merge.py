"""Merging of live-timing deltas into topic state, as F1's SignalR feed defines it.

The feed sends a full state once (on subscribe) and then deltas. A delta merges into the state
recursively: objects merge key by key; a list in the state is updated through an object whose keys
are list indexes (``{"Sectors": {"1": {"Value": "31.2"}}}`` updates sector 2 only; index ``len``
appends); a list in the delta replaces the old value; ``_deleted`` lists keys (or indexes) to drop.
"""

from __future__ import annotations

from typing import Any

from shared.feed.messages import FeedMessage

DELETED_KEY = "_deleted"


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items() if k != DELETED_KEY}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _index(key: Any) -> int | None:
    try:
        idx = int(key)
    except (TypeError, ValueError):
        return None
    return idx if idx >= 0 else None


def _merge_into_list(state: list[Any], delta: dict[str, Any]) -> list[Any]:
    for key in delta.get(DELETED_KEY) or ():
        idx = _index(key)
        if idx is not None and idx < len(state):
            state[idx] = None
    for key, value in delta.items():
        idx = _index(key)
        if idx is None:
            continue  # a named key cannot address a list element; F1 never sends one
        while len(state) < idx:
            state.append(None)
        if idx == len(state):
            state.append(_copy(value))
        else:
            state[idx] = merge_delta(state[idx], value)
    return state


def merge_delta(state: Any, delta: Any) -> Any:
    """Merge ``delta`` into ``state`` and return the new state.

    Dicts and lists of ``state`` are updated in place (the returned object is ``state`` itself
    when both are containers that merge); values taken from ``delta`` are copied, so the caller
    may keep or reuse the delta. Anything that is not a merge (scalar, list delta, type change)
    replaces the old value.
    """
    if isinstance(delta, dict):
        if isinstance(state, dict):
            for key in delta.get(DELETED_KEY) or ():
                state.pop(str(key), None)
            for key, value in delta.items():
                if key != DELETED_KEY:
                    state[key] = merge_delta(state.get(key), value)
            return state
        if isinstance(state, list):
            return _merge_into_list(state, delta)
    return _copy(delta)


def apply_message(states: dict[str, Any], message: FeedMessage) -> None:
    """Merge one feed message into ``states`` (topic -> state), in place."""
    states[message.topic] = merge_delta(states.get(message.topic), message.payload)
