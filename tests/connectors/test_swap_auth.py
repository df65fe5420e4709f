"""Swap webhooks authenticated by a JWT (HS256, the connection's secret, expiry
honoured) or by the HMAC of version-2 webhooks, as the connection's ``auth``
option says; JWT by default, because Swap's help centre says every request
carries one (tests/fixtures/realworld/notes/swap.md)."""

import base64
import hashlib
import hmac
import json
import time

import httpx
import jwt
import pytest

from connectors import registry, simulators
from connectors.base.signatures import HmacSignature, JwtSignature
from connectors.swap.webhooks import SwapAuth
from returns_hub.models import InboxDelivery
from tests.conftest import FIXTURES, fixture_bytes
from tests.factories import PlatformConnectionFactory

pytestmark = [
    pytest.mark.django_db,
    # The factories' secrets are shorter than PyJWT's advice; Swap's own are Swap's choice.
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

BODY = fixture_bytes("swap/02_return_updated_40012_delivered.json")
URL = "/webhooks/swap/hf-swap/"


def swap(**options):
    return PlatformConnectionFactory(platform="swap", slug="hf-swap", options=options)


def token(secret, body=BODY, *, exp=3600, algorithm="HS256", **claims):
    """A token as Swap would send it, made here with PyJWT, not by the code under test."""
    now = int(time.time())
    payload = {"iat": now, **claims}
    if exp is not None:
        payload["exp"] = now + exp
    if body is not None:
        payload["body_sha256"] = hashlib.sha256(body).hexdigest()
    return jwt.encode(payload, secret, algorithm=algorithm)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(secret, header: dict, body=BODY) -> str:
    """A token whose header names ``header["alg"]`` but whose signature is an
    HMAC-SHA256 with the secret: the algorithm-confusion attack."""
    claims = {"exp": int(time.time()) + 3600, "body_sha256": hashlib.sha256(body).hexdigest()}
    signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64url(mac)}"


def post(client, headers, body=BODY):
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def bearer(value):
    return {"Authorization": f"Bearer {value}"}


# --- the default and the option ----------------------------------------------------------


def test_the_default_is_a_jwt_because_the_help_centre_says_every_request_carries_one():
    notes = (FIXTURES / "realworld" / "notes" / "swap.md").read_text()
    assert "All webhook requests include a JWT" in notes
    signature = registry.get("swap").signature_for({})
    assert isinstance(signature, JwtSignature)
    assert signature.header == "Authorization"
    assert isinstance(registry.get("swap").signature_for({"auth": "hmac"}), HmacSignature)
    assert registry.get("swap").signature_for({"auth": "HMAC"}).header == "X-Swap-Signature"


def test_an_unknown_auth_option_is_refused_with_a_message():
    with pytest.raises(ValueError, match="'jwt' or 'hmac'"):
        SwapAuth().with_options({"auth": "rsa"})
    with pytest.raises(ValueError, match="jwt_require_exp"):
        SwapAuth().with_options({"jwt_require_exp": "perhaps"})
    with pytest.raises(ValueError, match="jwt_leeway_seconds"):
        SwapAuth().with_options({"jwt_leeway_seconds": "soon"})


# --- JWT ------------------------------------------------------------------------------------


def test_a_valid_jwt_is_202_and_the_token_is_not_stored(client):
    conn = swap()
    response = post(client, bearer(token(conn.webhook_secret)))
    assert response.status_code == 202, response.content
    delivery = InboxDelivery.objects.get()
    assert delivery.topic == "return.updated"
    assert bytes(delivery.body) == BODY
    assert not {k.lower() for k in delivery.headers} & {"authorization", "x-swap-signature"}


def test_a_bare_token_without_bearer_is_read_too(client):
    conn = swap()
    assert post(client, {"Authorization": token(conn.webhook_secret)}).status_code == 202


def test_an_expired_jwt_is_401(client):
    conn = swap()
    response = post(client, bearer(token(conn.webhook_secret, exp=-3600)))
    assert response.status_code == 401
    assert "Authorization" in response.json()["error"]
    assert not InboxDelivery.objects.exists()


def test_expiry_has_a_little_leeway_for_clocks_and_no_more(client):
    conn = swap()
    assert post(client, bearer(token(conn.webhook_secret, exp=-5))).status_code == 202
    conn.options = {"jwt_leeway_seconds": 0}
    conn.save()
    other = fixture_bytes("swap/03_return_processed_40012_inspected.json")
    late = token(conn.webhook_secret, other, exp=-5)
    assert post(client, bearer(late), other).status_code == 401


def test_a_jwt_signed_with_another_secret_is_401(client):
    swap()
    assert post(client, bearer(token("not-the-secret-0123456789abcdef"))).status_code == 401
    assert not InboxDelivery.objects.exists()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda secret: token(None, algorithm="none"), id="alg-none"),
        pytest.param(lambda secret: token(None, algorithm="none") + "x", id="alg-none-signed"),
        pytest.param(lambda secret: forged(secret, {"alg": "RS256", "typ": "JWT"}), id="RS256"),
        pytest.param(lambda secret: forged(secret, {"alg": "ES256", "typ": "JWT"}), id="ES256"),
        pytest.param(lambda secret: token(secret, algorithm="HS512"), id="HS512"),
        pytest.param(lambda secret: token(secret, algorithm="HS384"), id="HS384"),
    ],
)
def test_only_hs256_is_accepted(client, make):
    conn = swap()
    assert post(client, bearer(make(conn.webhook_secret))).status_code == 401
    assert not InboxDelivery.objects.exists()


def test_the_forgery_helper_makes_a_token_that_would_pass_as_hs256(client):
    """The RS256 forgery above is refused for its algorithm alone: the same bytes
    under an HS256 header are accepted."""
    conn = swap()
    good = forged(conn.webhook_secret, {"alg": "HS256", "typ": "JWT"})
    assert post(client, bearer(good)).status_code == 202


@pytest.mark.parametrize(
    "value",
    ["", "Bearer ", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer " + "A" * 5000, "x.y"],
)
def test_a_missing_or_malformed_token_is_401(client, value):
    swap()
    assert post(client, {"Authorization": value}).status_code == 401


def test_a_token_without_exp_is_refused_unless_the_option_allows_it(client):
    conn = swap()
    assert post(client, bearer(token(conn.webhook_secret, exp=None))).status_code == 401
    conn.options = {"jwt_require_exp": False}
    conn.save()
    assert post(client, bearer(token(conn.webhook_secret, exp=None))).status_code == 202


def test_a_token_bound_to_another_body_is_401(client):
    conn = swap()
    other = fixture_bytes("swap/06_return_cancelled_40015.json")
    assert post(client, bearer(token(conn.webhook_secret, other))).status_code == 401
    assert post(client, bearer(token(conn.webhook_secret, other)), other).status_code == 202


def test_a_token_without_a_body_claim_only_authenticates_the_sender(client):
    conn = swap()
    unbound = token(conn.webhook_secret, body=None)
    assert post(client, bearer(unbound)).status_code == 202
    # Nothing ties it to the body: the same token carries another body too ...
    other = fixture_bytes("swap/06_return_cancelled_40015.json")
    assert post(client, bearer(unbound), other).status_code == 202
    # ... unless the connection requires the binding.
    conn.options = {"jwt_require_body": True}
    conn.save()
    third = fixture_bytes("swap/05_return_processed_40014_shop_later_credit.json")
    assert post(client, bearer(token(conn.webhook_secret, body=None)), third).status_code == 401
    assert post(client, bearer(token(conn.webhook_secret, third)), third).status_code == 202


def test_the_body_claim_name_and_the_header_are_options(client):
    conn = swap(jwt_header="X-Swap-Token", jwt_body_claim="payload_hash")
    digest = hashlib.sha256(BODY).hexdigest()
    claimed = jwt.encode(
        {"exp": int(time.time()) + 60, "payload_hash": digest}, conn.webhook_secret, "HS256"
    )
    assert post(client, bearer(claimed)).status_code == 401  # not where the connection looks
    wrong = jwt.encode(
        {"exp": int(time.time()) + 60, "payload_hash": "0" * 64}, conn.webhook_secret, "HS256"
    )
    assert post(client, {"X-Swap-Token": wrong}).status_code == 401
    assert post(client, {"X-Swap-Token": claimed}).status_code == 202


def test_compute_makes_a_token_the_receiver_accepts_and_that_expires():
    signature = registry.get("swap").signature_for({})
    secret = "whsec-0123456789abcdef0123456789"
    value = signature.compute(secret, BODY)
    assert value.startswith("Bearer ")
    claims = jwt.decode(value.removeprefix("Bearer "), secret, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == signature.lifetime
    assert claims["body_sha256"] == hashlib.sha256(BODY).hexdigest()
    assert jwt.get_unverified_header(value.removeprefix("Bearer "))["alg"] == "HS256"
    assert signature.verify(secret, BODY, {"Authorization": value})
    assert not signature.verify(secret, BODY + b" ", {"Authorization": value})
    assert not signature.verify("", BODY, {"Authorization": value})  # no secret: nothing


# --- HMAC, and switching ------------------------------------------------------------------


def hmac_hex(secret, body=BODY):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_hmac_mode_still_works(client):
    conn = swap(auth="hmac")
    assert post(client, {"X-Swap-Signature": hmac_hex("wrong-secret")}).status_code == 401
    assert post(client, bearer(token(conn.webhook_secret))).status_code == 401  # a JWT is not it
    response = post(client, {"X-Swap-Signature": hmac_hex(conn.webhook_secret)})
    assert response.status_code == 202
    assert "X-Swap-Signature" in InboxDelivery.objects.get().headers


def test_hmac_mode_keeps_the_signature_options(client):
    conn = swap(auth="hmac", signature_header="X-Swap-Hmac", signature_encoding="base64")
    mac = hmac.new(conn.webhook_secret.encode(), BODY, hashlib.sha256).digest()
    assert post(client, {"X-Swap-Hmac": hmac_hex(conn.webhook_secret)}).status_code == 401
    encoded = base64.b64encode(mac).decode()
    assert post(client, {"X-Swap-Hmac": encoded}).status_code == 202


def test_the_option_switches_between_jwt_and_hmac(client):
    conn = swap()
    bodies = [
        fixture_bytes(f"swap/{name}.json")
        for name in (
            "01_return_created_40012_exchange_in_stock",
            "02_return_updated_40012_delivered",
            "03_return_processed_40012_inspected",
        )
    ]
    jwt_only = bearer(token(conn.webhook_secret, bodies[0]))
    hmac_only = {"X-Swap-Signature": hmac_hex(conn.webhook_secret, bodies[0])}
    assert post(client, hmac_only, bodies[0]).status_code == 401
    assert post(client, jwt_only, bodies[0]).status_code == 202

    conn.options = {"auth": "hmac"}
    conn.save()  # the receiver forgets its cached copy at once
    jwt_only = bearer(token(conn.webhook_secret, bodies[1]))
    hmac_only = {"X-Swap-Signature": hmac_hex(conn.webhook_secret, bodies[1])}
    assert post(client, jwt_only, bodies[1]).status_code == 401
    assert post(client, hmac_only, bodies[1]).status_code == 202

    conn.options = {"auth": "jwt"}
    conn.save()
    hmac_only = {"X-Swap-Signature": hmac_hex(conn.webhook_secret, bodies[2])}
    assert post(client, hmac_only, bodies[2]).status_code == 401
    assert post(client, bearer(token(conn.webhook_secret, bodies[2])), bodies[2]).status_code == 202
    assert InboxDelivery.objects.count() == 3


# --- over real HTTP -------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_jwt_authenticated_webhook_over_http(live_server):
    conn = swap()
    url = f"{live_server.url}{URL}"
    headers = {"Content-Type": "application/json"}
    sent = httpx.post(url, content=BODY, headers={**headers, **bearer(token(conn.webhook_secret))})
    assert sent.status_code == 202, sent.text
    # Swap's retry of the same delivery carries a fresh token: recognised, not stored twice.
    again = httpx.post(url, content=BODY, headers={**headers, **bearer(token(conn.webhook_secret))})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    expired = bearer(token(conn.webhook_secret, exp=-600))
    assert httpx.post(url, content=BODY, headers={**headers, **expired}).status_code == 401
    assert InboxDelivery.objects.count() == 1


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("options", "header"), [({}, None), ({"auth": "hmac"}, "X-Swap-Signature")]
)
def test_the_simulator_signs_as_the_connection_says(live_server, options, header):
    conn = swap(**options)
    sim = simulators.for_connection(
        conn, live_server.url, secret=conn.webhook_secret, api_key="sim-key"
    )
    sim.tick(new=2)
    sim.tick(new=1)
    assert sim.sent and {status for status, _ in sim.sent} == {202}
    stored = [d.headers for d in InboxDelivery.objects.all()]
    assert len(stored) == len(sim.sent)
    # A JWT travels in Authorization, which the inbox never keeps; an HMAC is kept.
    assert all((header in h) if header else ("X-Swap-Signature" not in h) for h in stored)

    # Signed the other way, the same connection refuses everything.
    conn.options = {"auth": "jwt" if options else "hmac"}
    conn.save()
    sim.tick(new=1)
    assert {status for status, _ in sim.sent[len(stored) :]} == {401}
