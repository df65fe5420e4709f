"""The Khaos channel's doors: hostile Basic auth headers and slugs (401, never 500),
hostile continuation tokens and SpecificIDs (answered, never 500), and the
throttle on failed sign-ins (429 without hashing; a correct caller unaffected)."""

import base64

import pytest

from connectors.khaos import views
from returns_hub.models import KhaosChannel
from tests.hostile.conftest import basic

pytestmark = pytest.mark.django_db


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


HEADERS = {
    "not_base64": "Basic not-base64!",
    "non_ascii": "Basic \u00e9\u00e9\u00e9\u00e9",
    "not_utf8": "Basic " + _b64(b"\xff\xfe:khaos-pw"),
    "no_colon": "Basic " + _b64(b"khaos"),
    "empty_token": "Basic ",
    "scheme_only": "Basic",
    "other_scheme": "Bearer abc",
    "padding_only": "Basic ====",
    "huge": "Basic " + "QUFB" * 25_000,
    "nul_in_user": "Basic " + _b64(b"kha\x00os:khaos-pw"),
    "nul_in_password": "Basic " + _b64(b"khaos:khaos\x00-pw"),
    "surrogate_bytes": "Basic " + _b64(b"khaos:\xed\xa0\x80"),
    "nul_raw": "Basic \x00",
    "right_user_empty_password": "Basic " + _b64(b"khaos:"),
}


@pytest.mark.parametrize("header", HEADERS.values(), ids=HEADERS.keys())
@pytest.mark.parametrize("endpoint", ["config", "stock"])
def test_a_hostile_authorization_header_is_401(client, channel, endpoint, header):
    method = client.get if endpoint == "config" else client.post
    response = method(f"/khaos/hf/{endpoint}", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


SLUGS = ["%00", "hf%00", "%E2%80%AE", "a" * 500, "HF", "hf%0A", "%ED%A0%80", "..%2F.."]


@pytest.mark.parametrize("slug", SLUGS)
def test_a_hostile_channel_slug_is_401(client, channel, slug):
    response = client.get(f"/khaos/{slug}/config", **basic())
    assert response.status_code in (401, 404)


TOKENS = {
    "thousands_of_digits": "hub-" + "9" * 5000,
    "past_bigint": "hub-99999999999999999999",
    "negative": "hub--1",
    "arabic_digits": "hub-\u0661\u0662",
    "year_one_east": "0001-01-01 00:00:00+14:00",
    "year_9999_west": "9999-12-31 23:59:59-14:00",
    "first_contact": "2019-12-31 12:00:00Z",
    "long_text": "x" * 10_000,
    "quoted": '"hub-5"',
    "nul": "hub-5\x00",
    "date_garbage": "2019-13-45 99:99:99",
}
SPECIFIC = {
    "five_thousand_refs": ",".join(f"LOOP-{n}" for n in range(5000)),
    "nul": "LOOP-1\x00,LOOP-2",
    "too_long": "R" * 500,
    "quotes_only": '""',
    "commas_only": ",,,,",
    "control": "LOOP-1\x07",
}


@pytest.mark.parametrize("token", TOKENS.values(), ids=TOKENS.keys())
@pytest.mark.parametrize("endpoint", ["returns", "orders"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_hostile_continuation_token_is_answered(khaos, endpoint, fmt, token):
    response = khaos.get(f"{endpoint}?format={fmt}", HTTP_SIRION_CONTINUATION=token)
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response["Sirion-Continuation"].startswith("hub-")
        assert len(response["Sirion-Continuation"]) < 30  # a token the hub gave


@pytest.mark.parametrize("specific", SPECIFIC.values(), ids=SPECIFIC.keys())
@pytest.mark.parametrize("endpoint", ["returns", "orders"])
def test_hostile_specific_ids_are_answered(khaos, endpoint, specific):
    response = khaos.get(endpoint, HTTP_SPECIFICIDS=specific)
    assert response.status_code == 200


# --- the throttle on failed sign-ins ----------------------------------------------


@pytest.fixture
def hashing(monkeypatch):
    """Counts the slow password checks."""
    calls = []
    real = KhaosChannel.check_credentials

    def counted(self, username, password):
        calls.append(username)
        return real(self, username, password)

    monkeypatch.setattr(KhaosChannel, "check_credentials", counted)
    return calls


def _config(client, address="10.0.0.1", **auth):
    return client.get("/khaos/hf/config", REMOTE_ADDR=address, **auth)


def test_after_ten_failures_in_a_minute_an_address_gets_429_without_hashing(
    client, channel, hashing
):
    for _ in range(views.FAILURE_LIMIT):
        assert _config(client, **basic(password="guess")).status_code == 401
    assert len(hashing) == views.FAILURE_LIMIT

    response = _config(client, **basic(password="another guess"))

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= views.FAILURE_WINDOW
    assert "try again" in response.content.decode()
    assert len(hashing) == views.FAILURE_LIMIT  # no hash for the throttled attempt
    # An unknown channel is throttled the same way (no dummy hash either).
    assert client.get("/khaos/nope/config", REMOTE_ADDR="10.0.0.1").status_code == 401
    assert _config(client, address="10.0.0.1", **basic(user="x")).status_code == 429
    views.forget_failures("10.0.0.1")


def test_a_correct_caller_is_never_held_up_and_never_counted(client, channel, hashing):
    for _ in range(30):  # successes do not count towards the limit
        assert _config(client, **basic()).status_code == 200
    assert len(hashing) == 1  # the hash is checked once, then remembered
    for _ in range(views.FAILURE_LIMIT):
        assert _config(client, **basic(password="guess")).status_code == 401
    assert _config(client, **basic(password="guess")).status_code == 429

    # The same address with the right credentials still gets in, at once.
    assert _config(client, **basic()).status_code == 200
    assert len(hashing) == 1 + views.FAILURE_LIMIT
    # Another address is not affected.
    assert _config(client, address="10.0.0.2", **basic(password="guess")).status_code == 401
    views.forget_failures("10.0.0.1")
    views.forget_failures("10.0.0.2")


def test_the_throttle_ends_with_its_window(client, channel, monkeypatch, settings):
    # The clock is moved, so the cache must be one whose expiry follows time.time().
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    now = [1_000_000.0]
    monkeypatch.setattr(views.time, "time", lambda: now[0])
    for _ in range(views.FAILURE_LIMIT):
        _config(client, address="10.0.0.3", **basic(password="guess"))
    throttled = _config(client, address="10.0.0.3", **basic(password="guess"))
    assert throttled.status_code == 429
    assert throttled["Retry-After"] == str(views.FAILURE_WINDOW)

    now[0] += views.FAILURE_WINDOW + 1  # the window's keys expire with it
    assert _config(client, address="10.0.0.3", **basic(password="guess")).status_code == 401
    assert _config(client, address="10.0.0.3", **basic()).status_code == 200
    views.forget_failures("10.0.0.3")
