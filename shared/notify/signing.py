"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body, with the shared secret.

Every webhook POST carries::

    X-Pitlane-Timestamp: 1714392871                  (Unix seconds when it was sent)
    X-Pitlane-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>
    X-Pitlane-Delivery:  <delivery id, the same on every retry of one notification>

Recipe for a receiver (what :func:`verify` does):

1. read the raw request body as bytes, before any JSON parsing;
2. ``expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()``;
3. accept if any ``v1=`` value of the signature header equals ``expected`` under a constant-time
   comparison (``hmac.compare_digest``) and the timestamp is within 5 minutes of your clock
   (replays of an old delivery fail); de-duplicate on ``X-Pitlane-Delivery`` if a retry after a
   lost answer would matter to you.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Pitlane-Signature"
TIMESTAMP_HEADER = "X-Pitlane-Timestamp"
DELIVERY_HEADER = "X-Pitlane-Delivery"
EVENT_HEADER = "X-Pitlane-Event"
VERSION = "v1"
TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}." + body`` under ``secret``."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_headers(secret: str, body: bytes, *, timestamp: int) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{VERSION}={signature(secret, timestamp, body)}",
    }


class SignatureError(ValueError):
    """The signature does not verify; the message says why (for the receiver's logs)."""


def verify(
    secret: str,
    body: bytes,
    *,
    timestamp: str | None,
    signature_header: str | None,
    now: float,
    tolerance_s: int = TOLERANCE_S,
) -> None:
    """Raise :class:`SignatureError` unless ``signature_header`` signs ``body`` at ``timestamp``
    with ``secret`` and ``timestamp`` is within ``tolerance_s`` of ``now`` (Unix seconds)."""
    if not timestamp or not timestamp.isdigit():
        raise SignatureError(f"missing or malformed {TIMESTAMP_HEADER}")
    if abs(now - int(timestamp)) > tolerance_s:
        raise SignatureError(f"{TIMESTAMP_HEADER} is more than {tolerance_s} s away from now")
    candidates = [
        value.strip().removeprefix(f"{VERSION}=")
        for value in (signature_header or "").split(",")
        if value.strip().startswith(f"{VERSION}=")
    ]
    if not candidates:
        raise SignatureError(f"missing {SIGNATURE_HEADER} ({VERSION}=...)")
    expected = signature(secret, int(timestamp), body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("signature mismatch (wrong secret, or the body was changed)")
