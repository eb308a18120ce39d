"""Firebase Auth ID tokens: who is calling (the uid), verified.

:func:`verify_id_token` checks what Firebase documents for ID tokens: an RS256 signature by one
of Google's ``securetoken`` keys (x509 certificates, fetched once and kept for their
``Cache-Control`` max-age), ``aud`` = the project id, ``iss`` =
``https://securetoken.google.com/<project>``, ``exp`` in the future and ``iat`` / ``auth_time``
not in the future (30 s clock skew), and a non-empty ``sub`` (the uid, at most 128 characters).

Tests and the local stack have no Firebase project: with ``auth_test_public_key`` set (a PEM
public key, ``PITLANE_AUTH_TEST_PUBLIC_KEY``; refused with ``env=prod``), tokens signed by its
private key are verified by the same checks instead of Google's keys. Unsigned tokens
(``alg: none``, which the Firestore emulator accepts) are always refused.

Any failure raises :class:`AuthError` (an ``ApiError``: HTTP 401 problem JSON at the API).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx

from shared.api.problem import ApiError
from shared.config import Settings
from shared.errors import ConfigError

GOOGLE_CERTS_URL = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
CLOCK_SKEW_S = 30
_MAX_AGE = re.compile(r"max-age=(\d+)")


class AuthError(ApiError):
    """The caller is not authenticated (missing, malformed, expired or forged ID token): the API
    answers 401 problem JSON with ``WWW-Authenticate: Bearer``."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": 'Bearer realm="pitlane"'})


_certs: dict[str, str] = {}
_certs_expire = 0.0
_certs_lock = threading.Lock()


def google_certs(http: httpx.Client | None = None) -> dict[str, str]:
    """Google's current securetoken certificates by key id, cached for their max-age."""
    global _certs, _certs_expire  # noqa: PLW0603 - one cache per process, as the keys are global
    with _certs_lock:
        if _certs and time.monotonic() < _certs_expire:
            return _certs
        client = http or httpx.Client(timeout=10.0)
        try:
            resp = client.get(GOOGLE_CERTS_URL)
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise AuthError(f"cannot fetch Firebase token keys: {exc}") from exc
        finally:
            if http is None:
                client.close()
        match = _MAX_AGE.search(resp.headers.get("Cache-Control", ""))
        _certs = {str(k): str(v) for k, v in resp.json().items()}
        _certs_expire = time.monotonic() + (int(match.group(1)) if match else 3600)
        return _certs


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; ``AuthError`` otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token (Authorization: Bearer <Firebase ID token>)")
    return token.strip()


def verify_id_token(token: str, *, settings: Settings, http: httpx.Client | None = None) -> str:
    """The uid of a valid Firebase ID token for ``settings.project``; ``AuthError`` otherwise."""
    from google.auth import exceptions as auth_exceptions
    from google.auth import jwt

    if not token:
        raise AuthError("missing ID token")
    if settings.auth_test_public_key:
        if settings.env == "prod":
            raise ConfigError("PITLANE_AUTH_TEST_PUBLIC_KEY must not be set with env=prod")
        certs: Any = settings.auth_test_public_key
    else:
        certs = google_certs(http)
    try:
        claims: dict[str, Any] = jwt.decode(
            token, certs=certs, audience=settings.project, clock_skew_in_seconds=CLOCK_SKEW_S
        )
    except (ValueError, TypeError, auth_exceptions.GoogleAuthError) as exc:
        raise AuthError(f"invalid ID token: {str(exc).splitlines()[0][:200]}") from None
    if claims.get("iss") != f"https://securetoken.google.com/{settings.project}":
        raise AuthError("invalid ID token: wrong issuer")
    uid = claims.get("sub")
    if not isinstance(uid, str) or not uid or len(uid) > 128 or "/" in uid:
        raise AuthError("invalid ID token: no usable subject (uid)")
    auth_time = claims.get("auth_time")
    if isinstance(auth_time, int | float) and auth_time > time.time() + CLOCK_SKEW_S:
        raise AuthError("invalid ID token: authenticated in the future")
    return uid
