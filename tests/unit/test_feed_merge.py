"""merge_delta: F1's recursive delta merge."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.feed import FeedMessage, apply_message, merge_delta


def test_dicts_merge_recursively_and_scalars_replace() -> None:
    state = {"Lines": {"44": {"Position": "2", "InPit": False}}}
    merged = merge_delta(state, {"Lines": {"44": {"Position": "1"}, "1": {"Position": "2"}}})
    assert merged is state
    assert state == {"Lines": {"44": {"Position": "1", "InPit": False}, "1": {"Position": "2"}}}


def test_index_keyed_object_updates_and_appends_list_elements() -> None:
    state = {"Sectors": [{"Value": "30.1"}, {"Value": ""}, {"Value": ""}]}
    merge_delta(state, {"Sectors": {"1": {"Value": "31.2", "PersonalFastest": True}}})
    assert state["Sectors"] == [{"Value": "30.1"}, {"Value": "31.2", "PersonalFastest": True}, {"Value": ""}]
    merge_delta(state, {"Sectors": {"3": {"Value": "x"}, "5": {"Value": "y"}}})
    assert state["Sectors"][3:] == [{"Value": "x"}, None, {"Value": "y"}]


def test_list_delta_replaces_and_is_copied() -> None:
    delta = {"Stints": [{"Compound": "SOFT"}]}
    state = merge_delta({"Stints": [{"Compound": "HARD"}, {"Compound": "HARD"}]}, delta)
    assert state == {"Stints": [{"Compound": "SOFT"}]}
    state["Stints"][0]["Compound"] = "WET"
    assert delta == {"Stints": [{"Compound": "SOFT"}]}  # the delta is not aliased


def test_deleted_keys_are_removed() -> None:
    state = {"Captures": {"0": {"Path": "a"}, "1": {"Path": "b"}}, "Other": 1}
    merge_delta(state, {"Captures": {"_deleted": ["0"]}})
    assert state == {"Captures": {"1": {"Path": "b"}}, "Other": 1}
    assert merge_delta(None, {"A": 1, "_deleted": ["B"]}) == {"A": 1}


def test_apply_message_starts_from_nothing() -> None:
    states: dict[str, object] = {}
    utc = datetime(2024, 7, 5, 12, tzinfo=UTC)
    apply_message(states, FeedMessage("TrackStatus", {"Status": "1", "Message": "AllClear"}, utc))
    apply_message(states, FeedMessage("TrackStatus", {"Status": "4", "Message": "SCDeployed"}, utc))
    assert states == {"TrackStatus": {"Status": "4", "Message": "SCDeployed"}}  # '4' = Safety Car
