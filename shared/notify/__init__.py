"""Notifications, the pure part: who asked for what, what happened, and what to send.

* :mod:`shared.notify.model`: topics, subscriptions (``users/{uid}/subscriptions/{id}``), their
  channels (FCM device token, webhook URL with a shared secret), filters and quiet hours;
* :mod:`shared.notify.occurrences`: what happened, as one :class:`Occurrence` per thing a person
  is told once (a Safety Car deployment, a schedule change, a reminder), built from race events,
  schedule changes and reminder tasks;
* :mod:`shared.notify.matching`: which subscriptions an occurrence matches, quiet hours in the
  subscriber's zone, and whether to send now, hold or drop;
* :mod:`shared.notify.render`: the short text and the per-channel payloads;
* :mod:`shared.notify.signing`: the webhook signature (HMAC-SHA256 over timestamp and body) and
  its verification recipe.

Nothing here does I/O; ``shared.services.notify`` wires it to Firestore, Pub/Sub, Cloud Tasks and
the channels. Decisions: ``docs/decisions/0004-notifications.md``.
"""
