"""A signed-in user's notification subscriptions (``users/{uid}/subscriptions``), through
``shared.services.subscriptions``; the uid is the verified Firebase ID token's, never one from the
request. Answers are private (``Cache-Control: private, no-store``).

The service (and its webhook client) is imported on the first subscription request, and its
models are named by import path: registering these routes costs the api's import nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from functions.routes.table import TABLE, db
from shared.api.params import Params
from shared.api.router import NO_STORE, Call

if TYPE_CHECKING:
    from shared.services.subscriptions import SubscriptionList, SubscriptionPublic

SERVICE = "shared.services.subscriptions"


class SubscriptionPath(Params):
    subscription_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = Field(
        description="a subscription id, as POST returned it", examples=["0123456789abcdef"]
    )


def _uid(call: Call) -> str:
    assert call.uid is not None  # routes below have auth=True: the dispatcher verified it
    return call.uid


@TABLE.post(
    "/api/subscriptions", response=f"{SERVICE}:SubscriptionPublic", body=f"{SERVICE}:SubscriptionCreate",
    cache=NO_STORE, status=201, auth=True, errors=(400,), tags=["subscriptions"],
)  # fmt: skip
def create_user_subscription(call: Call) -> SubscriptionPublic:
    """Subscribe to topics (reminders, safety cars, results...) on webhook or FCM channels.

    Idempotent: the same body again answers the stored subscription."""
    from shared.services.subscriptions import create_subscription

    return create_subscription(db=db(call), uid=_uid(call), body=call.body, settings=call.deps.settings)


@TABLE.get(
    "/api/subscriptions", response=f"{SERVICE}:SubscriptionList", cache=NO_STORE, auth=True, errors=(),
    tags=["subscriptions"],
)  # fmt: skip
def list_user_subscriptions(call: Call) -> SubscriptionList:
    """The signed-in user's subscriptions (secrets and tokens only as their last 4 characters)."""
    from shared.services.subscriptions import list_subscriptions

    return list_subscriptions(db=db(call), uid=_uid(call))


@TABLE.delete(
    "/api/subscriptions/{subscription_id}", response=None, path=SubscriptionPath, cache=NO_STORE,
    status=204, auth=True, tags=["subscriptions"],
)  # fmt: skip
def delete_user_subscription(call: Call) -> None:
    """Delete one of the signed-in user's subscriptions (404 if they have none with that id)."""
    from shared.services.subscriptions import delete_subscription

    delete_subscription(db=db(call), uid=_uid(call), subscription_id=call.path.subscription_id)


@TABLE.post(
    "/api/v1/prediction/subscribe", response=f"{SERVICE}:SubscriptionPublic",
    body=f"{SERVICE}:PredictionSubscribe", cache=NO_STORE, status=201, auth=True, errors=(400,),
    tags=["v1", "subscriptions"],
)  # fmt: skip
def v1_prediction_subscribe(call: Call) -> SubscriptionPublic:
    """Subscribe to prediction swings, optionally for some meetings or drivers (``filters``)."""
    from shared.services.subscriptions import subscribe_prediction

    return subscribe_prediction(db=db(call), uid=_uid(call), body=call.body, settings=call.deps.settings)
