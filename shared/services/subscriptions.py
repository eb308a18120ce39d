"""Subscriptions through the API: create, list and delete for one user (the uid of a verified
Firebase ID token, ``shared.auth``; never one from the request body or path).

Routes (wired in ``functions/api.py``; errors are problem JSON: ``AuthError`` 401,
``BadRequestError`` 400, ``NotFoundError`` 404, a body that does not validate 422):

* ``POST /api/subscriptions`` (:class:`SubscriptionCreate`) -> 201 :class:`SubscriptionPublic`;
* ``GET /api/subscriptions`` -> 200 ``{"subscriptions": [SubscriptionPublic, ...]}``;
* ``DELETE /api/subscriptions/{id}`` -> 204;
* ``POST /api/v1/prediction/subscribe`` (:class:`PredictionSubscribe`) -> 201: a subscription
  to ``prediction_swing``.

A subscription's id is a digest of the uid and the request, so a retried POST names the same
document and creates nothing new. Responses never echo a webhook secret or an FCM token in full.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared.config import Settings
from shared.errors import BadRequestError, NotFoundError
from shared.notify.model import (
    DEFAULT_LEAD_MIN,
    MAX_CHANNELS,
    MAX_LEAD_MIN,
    MIN_LEAD_MIN,
    Channel,
    Filters,
    QuietHours,
    Subscription,
    Topic,
    WebhookChannel,
    channel_id,
    check_time_zone,
    subscription_id,
)
from shared.services.notify_delivery import check_webhook_url, private_ok
from shared.stores import subscriptions as store

if TYPE_CHECKING:
    from google.cloud import firestore


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filters: Filters = Filters()
    channels: list[Channel] = Field(min_length=1, max_length=MAX_CHANNELS)
    quiet_hours: QuietHours | None = None
    time_zone: str = "UTC"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_time_zone(value)


class SubscriptionCreate(_Body):
    """``POST /api/subscriptions``: what to hear about, where, and when not."""

    topics: list[Topic] = Field(min_length=1, max_length=len(Topic))
    reminder_lead_min: int = Field(default=DEFAULT_LEAD_MIN, ge=MIN_LEAD_MIN, le=MAX_LEAD_MIN)

    @field_validator("topics")
    @classmethod
    def _distinct(cls, value: list[Topic]) -> list[Topic]:
        return list(dict.fromkeys(value))


class PredictionSubscribe(_Body):
    """``POST /api/v1/prediction/subscribe``: prediction swings, optionally for some meetings or
    drivers (``filters``)."""


class ChannelPublic(BaseModel):
    id: str
    type: str
    url: str | None = None
    hint: str = Field(description="the last 4 characters of the secret (webhook) or token (fcm)")


class SubscriptionPublic(BaseModel):
    id: str
    topics: list[Topic]
    filters: Filters
    channels: list[ChannelPublic]
    quiet_hours: QuietHours | None
    time_zone: str
    reminder_lead_min: int
    created_at: AwareDatetime | None
    updated_at: AwareDatetime | None


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionPublic]


def public(sub: Subscription) -> SubscriptionPublic:
    out = []
    for ch in sub.channels:
        if isinstance(ch, WebhookChannel):
            out.append(ChannelPublic(id=channel_id(ch), type=ch.type, url=ch.url, hint=ch.secret[-4:]))
        else:
            out.append(ChannelPublic(id=channel_id(ch), type=ch.type, hint=ch.token[-4:]))
    return SubscriptionPublic(
        id=sub.id,
        topics=list(sub.topics),
        filters=sub.filters,
        channels=out,
        quiet_hours=sub.quiet_hours,
        time_zone=sub.time_zone,
        reminder_lead_min=sub.reminder_lead_min,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def create_subscription(
    *,
    db: firestore.Client,
    uid: str,
    body: SubscriptionCreate,
    settings: Settings,
    now: datetime | None = None,
) -> SubscriptionPublic:
    """Store ``body`` as a subscription of ``uid`` (idempotent: the same body again returns the
    stored one). ``BadRequestError`` for a webhook URL that may not receive notifications or when
    the user has :data:`~shared.stores.subscriptions.MAX_PER_USER` subscriptions already."""
    return _create(db=db, uid=uid, content=body.model_dump(mode="json"), settings=settings, now=now)


def subscribe_prediction(
    *,
    db: firestore.Client,
    uid: str,
    body: PredictionSubscribe,
    settings: Settings,
    now: datetime | None = None,
) -> SubscriptionPublic:
    content = {**body.model_dump(mode="json"), "topics": [Topic.PREDICTION_SWING.value]}
    return _create(db=db, uid=uid, content=content, settings=settings, now=now)


def _create(
    *, db: firestore.Client, uid: str, content: dict[str, Any], settings: Settings, now: datetime | None
) -> SubscriptionPublic:
    for ch in content["channels"]:
        if ch["type"] == "webhook":
            check_webhook_url(ch["url"], allow_private=private_ok(settings), resolve=False)
    sub_id = subscription_id(uid, content)
    existing = store.get(db, uid, sub_id)
    if existing is not None:
        return public(existing)
    if store.count_for_user(db, uid) >= store.MAX_PER_USER:
        raise BadRequestError(f"a user has at most {store.MAX_PER_USER} subscriptions; delete one first")
    stamp = now or datetime.now(UTC)
    sub = Subscription.model_validate(
        {**content, "id": sub_id, "uid": uid, "created_at": stamp, "updated_at": stamp}
    )
    if not store.create(db, sub):  # a concurrent identical POST won: return what is stored
        sub = store.get(db, uid, sub_id) or sub
    return public(sub)


def list_subscriptions(*, db: firestore.Client, uid: str) -> SubscriptionList:
    return SubscriptionList(subscriptions=[public(s) for s in store.list_for_user(db, uid)])


def delete_subscription(*, db: firestore.Client, uid: str, subscription_id: str) -> None:
    """Delete ``uid``'s subscription; ``NotFoundError`` if ``uid`` has none with that id (also
    when another user has one: a caller learns nothing about other users' ids)."""
    if not subscription_id or "/" in subscription_id or not store.delete(db, uid, subscription_id):
        raise NotFoundError(f"no subscription {subscription_id!r}")
