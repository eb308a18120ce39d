"""Firebase ID token verification (``shared.auth``) with a test key the settings trust.

:func:`signed_token` and :func:`trusted_public_pem` are also used by the integration tests of the
subscription API: tokens are real RS256 JWTs, signed by a key made for this test run.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.api.problem import problem_for
from shared.auth import AuthError, bearer_token, verify_id_token
from shared.config import Settings, load_settings
from shared.errors import ConfigError
from tests.emulators import TEST_PROJECT, id_token


@lru_cache(maxsize=2)
def _key_pems(name: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def trusted_public_pem() -> str:
    """The PEM public key to set as ``auth_test_public_key`` (made once per test run)."""
    return _key_pems("trusted")[1]


def signed_token(uid: str, *, project: str = TEST_PROJECT, key: str = "trusted", **claims: Any) -> str:
    """An RS256 Firebase-style ID token for ``uid``, signed by the test key ``key``."""
    from google.auth import crypt, jwt

    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
    }
    payload.update(claims)
    signer = crypt.RSASigner.from_string(_key_pems(key)[0], key_id="test")
    return jwt.encode(signer, {k: v for k, v in payload.items() if v is not None}).decode()


def _settings(**kw: Any) -> Settings:
    return load_settings(
        GOOGLE_CLOUD_PROJECT=TEST_PROJECT, env="test", auth_test_public_key=trusted_public_pem(), **kw
    )


def test_a_token_signed_by_the_trusted_key_gives_its_uid() -> None:
    assert verify_id_token(signed_token("alice-uid"), settings=_settings()) == "alice-uid"
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: signed_token("alice", key="intruder"), id="another-key"),
        pytest.param(lambda: signed_token("alice", exp=int(time.time()) - 120), id="expired"),
        pytest.param(lambda: signed_token("alice", iat=int(time.time()) + 600), id="issued-in-the-future"),
        pytest.param(lambda: signed_token("alice", aud="another-project"), id="wrong-audience"),
        pytest.param(lambda: signed_token("alice", iss="https://evil.example.com/"), id="wrong-issuer"),
        pytest.param(lambda: signed_token(""), id="no-subject"),
        pytest.param(lambda: signed_token("a/b"), id="subject-with-slash"),
        pytest.param(lambda: id_token("alice"), id="unsigned-alg-none"),
        pytest.param(lambda: "not.a.token", id="garbage"),
        pytest.param(lambda: "", id="empty"),
    ],
)
def test_bad_tokens_are_refused(token: Any) -> None:
    with pytest.raises(AuthError) as err:
        verify_id_token(token(), settings=_settings())
    problem, headers = problem_for(err.value, instance="/api/subscriptions")
    assert (problem.status, problem.title) == (401, "Unauthorized")
    assert headers == {"WWW-Authenticate": 'Bearer realm="pitlane"'}


def test_missing_bearer_and_prod_refusal() -> None:
    for header in (None, "", "Basic abc", "Bearer "):
        with pytest.raises(AuthError, match="bearer"):
            bearer_token(header)
    prod = Settings.model_construct(**{**_settings().model_dump(), "env": "prod"})
    with pytest.raises(ConfigError, match="PITLANE_AUTH_TEST_PUBLIC_KEY"):
        verify_id_token(signed_token("alice"), settings=prod)


def _certificate(name: str) -> str:
    """A self-signed x509 certificate of the test key ``name`` (the form Google publishes keys in)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(_key_pems(name)[0].encode(), password=None)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.system.gserviceaccount.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_production_path_uses_googles_published_certificates(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from shared import auth

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(
            200, json={"test": _certificate("trusted")}, headers={"Cache-Control": "public, max-age=3600"}
        )

    monkeypatch.setattr(auth, "_certs", {})
    settings = load_settings(GOOGLE_CLOUD_PROJECT=TEST_PROJECT, env="test")
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        assert verify_id_token(signed_token("carol"), settings=settings, http=http) == "carol"
        assert verify_id_token(signed_token("dave"), settings=settings, http=http) == "dave"
        with pytest.raises(AuthError):
            verify_id_token(signed_token("eve", key="intruder"), settings=settings, http=http)
    assert calls == [auth.GOOGLE_CERTS_URL]  # fetched once, kept for its max-age
