"""Security headers and the content security policy on every page and the API.

Every screen page (``PAGES`` of ``tests/screens/test_page_roles.py``, asked by the
superuser, who is let in everywhere), the login page, an API answer and the API's 401
carry: ``X-Content-Type-Options: nosniff``, a ``Referrer-Policy``, a
``Cross-Origin-Opener-Policy``, ``X-Frame-Options: DENY`` and the hub's CSP (nothing
inline, no framing). The settings behind them are named in ``config/settings/base.py``.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from tests import factories
from tests.screens.test_page_roles import PAGES, _url

pytestmark = pytest.mark.django_db

GET_PAGES = sorted(name for name, page in PAGES.items() if not page.post_only)


def assert_secure_headers(response, what: str) -> None:
    assert response["X-Content-Type-Options"] == "nosniff", what
    assert response["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin"), what
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", what
    assert response["X-Frame-Options"] == "DENY", what
    policy = response["Content-Security-Policy"]
    parts = (part.strip().partition(" ") for part in policy.split(";"))
    directives = {name: value for name, _, value in parts if name}
    assert directives["default-src"] == "'self'", what
    assert directives["frame-ancestors"] == "'none'", what
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, what


@pytest.fixture
def page_samples():
    """The sample rows ``PAGES``' arguments name (as the page manifest makes them)."""
    unit = factories.ReturnUnitFactory()
    ret = unit.return_ref
    return {
        "<return>": ret.pk,
        "<unit>": unit.pk,
        "<case>": factories.ExceptionCaseFactory(return_ref=ret, unit=unit).pk,
        "<connection>": ret.connection.slug,
        "<channel>": ret.connection.khaos_channel.slug,
    }


@pytest.fixture
def superuser_client(client, role_users):
    client.force_login(role_users["admin"])
    return client


@pytest.mark.parametrize("name", GET_PAGES)
def test_every_screen_page_carries_the_security_headers(superuser_client, page_samples, name):
    response = superuser_client.get(_url(name, page_samples))
    assert response.status_code in (200, 302, 404), f"{name}: {response.status_code}"
    assert_secure_headers(response, name)


def test_the_login_page_and_its_redirect_carry_them(client):
    assert_secure_headers(client.get(reverse("login")), "login page")
    assert_secure_headers(client.get("/warehouse/"), "redirect to log in")


def test_the_api_carries_them(superuser_client, client):
    assert_secure_headers(superuser_client.get("/api/v1/returns/"), "API list")
    superuser_client.logout()
    refused = client.get("/api/v1/returns/")
    assert refused.status_code == 401
    assert_secure_headers(refused, "API 401")


def test_the_settings_name_them_outright():
    assert settings.SECURE_CONTENT_TYPE_NOSNIFF is True
    assert settings.SECURE_REFERRER_POLICY == "same-origin"
    assert settings.SECURE_CROSS_ORIGIN_OPENER_POLICY == "same-origin"
    assert settings.X_FRAME_OPTIONS == "DENY"
    assert "django.middleware.security.SecurityMiddleware" in settings.MIDDLEWARE
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in settings.MIDDLEWARE
    assert "csp.middleware.CSPMiddleware" in settings.MIDDLEWARE
