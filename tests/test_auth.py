"""User and session tokens: algorithms, claims, and that neither stands in for the other."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from server.http.auth import UserTokens, bearer_token
from server.http.errors import status_of
from server.sessions import DomainError, Role, SessionTokens
from tests.local_http import QuietHandler, serve_locally
from tests.support import SESSION_SECRET, USER_SECRET, user_token


@pytest.fixture
def users() -> UserTokens:
    return UserTokens(secret=USER_SECRET, leeway_seconds=5)


@pytest.fixture
def sessions() -> SessionTokens:
    return SessionTokens(SESSION_SECRET, leeway_seconds=5)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_valid_user_token_gives_subject_and_role(users: UserTokens) -> None:
    principal = await users.verify(user_token("cand_1", "recruiter"))
    assert principal.subject == "cand_1" and principal.role == Role.RECRUITER


async def test_alg_none_is_rejected(users: UserTokens) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    exp = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    claims = _b64(json.dumps({"sub": "cand_1", "exp": exp}).encode())
    with pytest.raises(DomainError) as error:
        await users.verify(f"{header}.{claims}.")
    assert status_of(error.value) == 401


async def test_missing_exp_and_unknown_role_are_rejected(users: UserTokens) -> None:
    no_exp = jwt.encode({"sub": "cand_1"}, USER_SECRET, algorithm="HS256")
    with pytest.raises(DomainError):
        await users.verify(no_exp)
    with pytest.raises(DomainError):
        await users.verify(user_token("cand_1", "superuser"))


async def test_small_clock_skew_is_tolerated_but_not_more(users: UserTokens) -> None:
    assert (await users.verify(user_token("c", ttl=-2))).subject == "c"
    with pytest.raises(DomainError):
        await users.verify(user_token("c", ttl=-60))


async def test_session_and_user_tokens_do_not_substitute(users: UserTokens, sessions: SessionTokens) -> None:
    issued = sessions.issue(session_id="s1", application_id="a1", subject="c1")
    with pytest.raises(DomainError):
        await users.verify(issued.token)
    with pytest.raises(DomainError):
        sessions.verify(user_token("c1"))
    # Even a user token signed with the session secret and typ "interview" is refused as a user token.
    forged = jwt.encode(
        {"sub": "c1", "typ": "interview", "exp": datetime.now(UTC) + timedelta(hours=1)}, USER_SECRET, algorithm="HS256"
    )
    with pytest.raises(DomainError):
        await users.verify(forged)


def test_session_token_claims(sessions: SessionTokens) -> None:
    issued = sessions.issue(session_id="s1", application_id="a1", subject="c1")
    claims = jwt.decode(issued.token, SESSION_SECRET, algorithms=["HS256"])
    assert {"sid", "app", "sub", "typ", "jti", "iat", "exp"} <= set(claims)
    assert claims["typ"] == "interview" and claims["exp"] - claims["iat"] == 1800
    principal = sessions.verify(issued.token)
    assert (principal.session_id, principal.application_id, principal.subject) == ("s1", "a1", "c1")


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    for bad in (None, "", "Basic abc", "Bearer ", "Bearer " + "x" * 9000):
        with pytest.raises(DomainError):
            bearer_token(bad)


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

    with serve_locally(Handler) as port:
        yield f"http://127.0.0.1:{port}/jwks.json", key


async def test_jwks_rs256_tokens_and_algorithm_confusion(jwks_server: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, key = jwks_server
    users = UserTokens(secret=None, jwks_url=url)
    exp = datetime.now(UTC) + timedelta(hours=1)
    good = jwt.encode({"sub": "cand_9", "exp": exp}, key, algorithm="RS256", headers={"kid": "k1"})
    assert (await users.verify(good)).subject == "cand_9"
    # HS256 signed with the public key's PEM: the classic confusion attack.
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    claims = _b64(json.dumps({"sub": "attacker", "exp": int(exp.timestamp())}).encode())
    import hashlib
    import hmac

    signature = _b64(hmac.new(public_pem, f"{header}.{claims}".encode(), hashlib.sha256).digest())
    with pytest.raises(DomainError):
        await users.verify(f"{header}.{claims}.{signature}")
