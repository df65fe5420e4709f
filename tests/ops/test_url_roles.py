"""Every URL the hub answers, every role and anyone not logged in, and the answer.

The whole resolver (``get_resolver()``) is walked and each pattern must fall under a rule
of ``RULES`` and, outside the admin, have a row in ``MANIFEST`` (the screens' rows are
``tests/screens/test_page_roles.py``'s ``PAGES``, asserted role by role there). A route
added without its row fails ``test_every_resolved_route_has_a_row``. What each kind of
route answers:

- API (``/api/v1/…``, the schema): no credentials 401; a role without the row's
  permission (taken from ``returns_hub.roles.MATRIX``) 403; a role with it 200 (405 for a
  POST-only action, 404 where the sample names nothing). The docs page sends anyone not
  logged in to log in.
- Admin: staff only. Anyone not staff (every team's user as the teams have them, the
  user in no team) is sent to the admin's login; the superuser gets in; a team's user made
  staff sees a model's list only with its view or change permission (403 otherwise).
- Khaos channel: Basic auth with the channel's credentials only. A logged-in session,
  even the superuser's, is 401.
- Webhooks: the signature only. A session without a signature is 401 (404 for a
  connection that does not exist).
- ``/healthz`` and the login page are open; logout is POST only (405 to a logged-in
  GET; anyone not logged in is sent to log in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from connectors import registry
from returns_hub.roles import MATRIX
from tests import factories
from tests.conftest import fixture_bytes, khaos_basic
from tests.screens.test_page_roles import PAGES

pytestmark = pytest.mark.django_db

ROLES = ("finance", "warehouse", "cx", "data", "admin", "nobody")
WHO = (*ROLES, "anonymous")
ANY_LOGIN = frozenset(ROLES)


def holders(perm: str) -> frozenset:
    """The roles holding ``perm``: the teams the matrix gives it to, and the superuser."""
    return frozenset({str(team) for team, perms in MATRIX.items() if perm in perms} | {"admin"})


# --- The walk ----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    pattern: str  # the full pattern text, e.g. "api/v1/^returns/$"
    key: str  # the namespaced name, or "<callback>" for an unnamed route


def resolved_routes(patterns=None, prefix: str = "", namespace: str = "") -> list[Route]:
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            routes += resolved_routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            key = (
                f"{namespace}{pattern.name}"
                if pattern.name
                else f"<{getattr(pattern.callback, '__name__', 'view')}>"
            )
            routes.append(Route(prefix + str(pattern.pattern), key))
    return routes


# Prefix rules, first match wins: every resolved pattern falls under one. "admin" is
# covered by the rule alone (staff only, asserted on the index and every model's list);
# every other kind needs its route's row in MANIFEST.
RULES = [
    (re.compile(r"^admin/"), "admin"),
    (re.compile(r"^api/"), "api"),
    (re.compile(r"^khaos/"), "khaos"),
    (re.compile(r"^webhooks/"), "webhook"),
    (re.compile(r"^(healthz|accounts/)"), "open"),
    (re.compile(r""), "screen"),  # everything else is a page for people: a row in PAGES
]


def kind_of(route: Route) -> str:
    return next(kind for rule, kind in RULES if rule.search(route.pattern))


# --- The manifest ---------------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    path: str  # "<name>" placeholders are sample rows made by ``samples``
    allowed: frozenset  # the roles let in; others 403, anyone not logged in 401
    ok: int = 200  # what an allowed role's GET answers
    anonymous: int = 401


def _table(base: str, path: str, perm: str, detail: str = "999999") -> dict[str, Api]:
    """A router's list and detail routes; a detail with no sample row is 404 when let in."""
    roles = holders(perm)
    return {
        f"{base}-list": Api(path, roles),
        f"{base}-detail": Api(f"{path}{detail}/", roles, ok=200 if detail != "999999" else 404),
    }


R = "/api/v1/returns/<return>"
E = "/api/v1/exceptions/<case>"
API: dict[str, Api] = {
    "api-root": Api("/api/v1/", ANY_LOGIN),
    **_table("return", "/api/v1/returns/", "returns_hub.view_return", "<return>"),
    "return-approve-value": Api(f"{R}/approve-value/", holders("returns_hub.approve_value"), 405),
    "return-receive": Api(f"{R}/units/<unit>/receive/", holders("returns_hub.receive_unit"), 405),
    "return-grade": Api(f"{R}/units/<unit>/grade/", holders("returns_hub.grade_unit"), 405),
    **_table("exception", "/api/v1/exceptions/", "returns_hub.view_exceptioncase", "<case>"),
    "exception-ignore": Api(f"{E}/ignore/", holders("returns_hub.resolve_exception"), 405),
    "exception-resolve": Api(f"{E}/resolve/", holders("returns_hub.resolve_exception"), 405),
    "exception-retry": Api(f"{E}/retry/", holders("returns_hub.resolve_exception"), 405),
    **_table("posting", "/api/v1/postings/", "returns_hub.view_posting", "<posting>"),
    **_table("sku-mapping", "/api/v1/mappings/skus/", "returns_hub.view_skumapping"),
    **_table("reason-mapping", "/api/v1/mappings/reasons/", "returns_hub.view_reasonmapping"),
    **_table(
        "disposition-mapping",
        "/api/v1/mappings/dispositions/",
        "returns_hub.view_dispositionmapping",
    ),
    **_table("customer-mapping", "/api/v1/mappings/customers/", "returns_hub.view_customermapping"),
    **_table(
        "khaos-reason",
        "/api/v1/khaos/return-reasons/",
        "returns_hub.view_khaosreturnreason",
        "<reason>",
    ),
    **_table(
        "khaos-product", "/api/v1/khaos/products/", "returns_hub.view_khaosproduct", "<product>"
    ),
    **_table("stock-level", "/api/v1/khaos/stock-levels/", "returns_hub.view_stocklevel"),
    **_table(
        "khaos-channel", "/api/v1/khaos/channels/", "returns_hub.view_khaoschannel", "<channel>"
    ),
    **_table("khaos-upload", "/api/v1/khaos/uploads/", "returns_hub.view_khaosupload"),
    **_table("inbox-delivery", "/api/v1/inbox/", "returns_hub.view_inboxdelivery"),
    **_table("connection", "/api/v1/connections/", "returns_hub.view_platformconnection", "<conn>"),
    **_table("write-back", "/api/v1/write-backs/", "returns_hub.view_writeback"),
    "credit-note-import": Api(
        "/api/v1/reconciliation/credit-notes/", holders("reconciliation.add_creditnote"), 405
    ),
    "reconciliation-period": Api(
        "/api/v1/reconciliation/periods/2025-03/", holders("reconciliation.view_creditnote")
    ),
    "reconciliation-differences": Api(
        "/api/v1/reconciliation/differences/?period=2025-03",
        holders("reconciliation.view_creditnote"),
    ),
    **_table(
        "reconciliation-rule",
        "/api/v1/reconciliation/rules/",
        "reconciliation.view_reconciliationrule",
    ),
    **_table(
        "reconciliation-acceptance",
        "/api/v1/reconciliation/acceptances/",
        "reconciliation.view_acceptance",
    ),
    "schema": Api("/api/schema/", ANY_LOGIN),
    # People read the docs in a browser: anyone not logged in is sent to log in.
    "api-docs": Api("/api/docs/", ANY_LOGIN, anonymous=302),
    # A path under the API's tables naming no route: the API's JSON 404, to anyone.
    "<not_found>": Api("/api/v1/returns/a.b/", ANY_LOGIN, ok=404, anonymous=404),
}
# The routers' format-suffix twins (``returns.json``) share their route's name and row;
# a few are asked too, and the reconciliation catch-all beside the main one.
EXTRA_API = {
    "return-list.json": Api("/api/v1/returns.json", holders("returns_hub.view_return")),
    "return-detail.json": Api(f"{R}.json", holders("returns_hub.view_return")),
    "inbox-delivery-list.json": Api(
        "/api/v1/inbox.json", holders("returns_hub.view_inboxdelivery")
    ),
    "api-root.json": Api("/api/v1/.json", ANY_LOGIN),
    "<not_found>:reconciliation": Api(
        "/api/v1/reconciliation/rules/a.b/", ANY_LOGIN, ok=404, anonymous=404
    ),
}


@dataclass(frozen=True)
class Channel:
    method: str  # what the Khaos route takes (the other method is 405 before any auth)
    ok: int  # with the channel's Basic auth: GETs 200; an empty push 400 (nothing to store)


KHAOS: dict[str, Channel] = {
    "khaos-config": Channel("get", 200),
    "khaos-returns": Channel("get", 200),
    "khaos-orders": Channel("get", 200),
    "khaos-stock": Channel("post", 400),
    "khaos-stock-status": Channel("post", 400),
    "khaos-order-status": Channel("post", 400),
}

# The rest, whole: the webhook receiver, the health check, logging in and out.
OTHERS = {"webhook", "healthz", "login", "logout"}

MANIFEST = {*API, *KHAOS, *OTHERS, *PAGES}


def test_every_resolved_route_has_a_row():
    missing = sorted(
        f"{route.pattern} ({route.key}, {kind})"
        for route in resolved_routes()
        if (kind := kind_of(route)) != "admin"
        and not (route.key in PAGES if kind == "screen" else route.key in MANIFEST)
    )
    assert not missing, f"routes with no row in the manifest (add their expectations): {missing}"


def test_the_manifest_names_no_route_that_is_gone():
    keys = {route.key for route in resolved_routes()}
    assert MANIFEST - keys == set()


def test_the_walk_sees_every_kind_of_route():
    kinds = {kind_of(route) for route in resolved_routes()}
    assert kinds == {"admin", "api", "khaos", "webhook", "open", "screen"}


# --- Samples and clients --------------------------------------------------------------


@pytest.fixture
def samples():
    unit = factories.ReturnUnitFactory()
    ret = unit.return_ref
    return {
        "<return>": str(ret.pk),
        "<unit>": str(unit.pk),
        "<case>": str(factories.ExceptionCaseFactory(return_ref=ret, unit=unit).pk),
        "<posting>": str(factories.PostingFactory(return_ref=ret).pk),
        "<reason>": str(factories.KhaosReturnReasonFactory().pk),
        "<product>": str(factories.KhaosProductFactory().pk),
        "<channel>": str(ret.connection.khaos_channel.pk),
        "<conn>": str(ret.connection.pk),
        "connection": ret.connection,
    }


def _fill(path: str, samples: dict) -> str:
    return re.sub(r"<\w+>", lambda m: samples[m.group(0)], path)


@pytest.fixture
def client_as(client, role_users):
    def make(who: str):
        if who != "anonymous":
            client.force_login(role_users[who])
        return client

    return make


# --- API ----------------------------------------------------------------------------

API_CASES = [(key, who) for key in sorted({**API, **EXTRA_API}) for who in WHO]


@pytest.mark.parametrize(("key", "who"), API_CASES)
def test_each_api_route_answers_each_role(client_as, samples, key, who):
    row = {**API, **EXTRA_API}[key]
    response = client_as(who).get(_fill(row.path, samples))
    expected = row.anonymous if who == "anonymous" else row.ok if who in row.allowed else 403
    assert response.status_code == expected, f"{key} as {who}: {response.status_code}"
    if who == "anonymous" and expected == 401:
        assert "WWW-Authenticate" in response


# --- Admin ----------------------------------------------------------------------------


def admin_urls() -> list[tuple[str, str | None]]:
    """The admin index and every registered model's list, with the model's permissions."""
    urls = [("admin:index", None)]
    for model in admin.site._registry:
        meta = model._meta
        urls.append((f"admin:{meta.app_label}_{meta.model_name}_changelist", model))
    return urls


ADMIN = admin_urls()


@pytest.mark.parametrize(
    ("name", "model"), ADMIN, ids=[name.removeprefix("admin:") for name, _ in ADMIN]
)
def test_the_admin_is_for_staff_only(client, role_users, name, model):
    url = reverse(name)
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"], name
    for role in ("finance", "warehouse", "cx", "data", "nobody"):
        client.force_login(role_users[role])
        response = client.get(url)
        assert response.status_code == 302, f"{name} as {role} (not staff)"
        assert response["Location"].startswith("/admin/login/"), f"{name} as {role}"
    client.force_login(role_users["admin"])
    assert client.get(url).status_code == 200, f"{name} as the superuser"
    # A team's user made staff: a model's list only with the model's view or change perm.
    for role in ("finance", "warehouse", "cx", "data"):
        user = role_users[role]
        user.is_staff = True
        user.save()
        client.force_login(user)
        status = client.get(url).status_code
        if model is None:
            assert status == 200, f"{name} as staff {role}"
            continue
        meta = model._meta
        may = user.has_perm(f"{meta.app_label}.view_{meta.model_name}") or user.has_perm(
            f"{meta.app_label}.change_{meta.model_name}"
        )
        assert status == (200 if may else 403), f"{name} as staff {role}: {status}"


# --- The Khaos channel ----------------------------------------------------------------

KHAOS_CASES = [(name, who) for name in sorted(KHAOS) for who in WHO]


@pytest.mark.parametrize(("name", "who"), KHAOS_CASES)
def test_a_session_is_not_enough_for_the_khaos_channel(client_as, samples, name, who):
    channel = samples["connection"].khaos_channel
    url = reverse(name, args=[channel.slug])
    response = getattr(client_as(who), KHAOS[name].method)(url)
    assert response.status_code == 401, f"{name} as {who}: {response.status_code}"
    assert response["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize("name", sorted(KHAOS))
def test_the_khaos_channel_takes_its_basic_auth_only(client, samples, name):
    channel = samples["connection"].khaos_channel
    url = reverse(name, args=[channel.slug])
    call = getattr(client, KHAOS[name].method)
    assert call(url, **khaos_basic()).status_code == KHAOS[name].ok
    assert call(url, **khaos_basic(password="wrong")).status_code == 401
    other = "get" if KHAOS[name].method == "post" else "post"
    assert getattr(client, other)(url, **khaos_basic()).status_code == 405


# --- Webhooks ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO)
def test_a_session_without_a_signature_is_refused_by_the_webhook(client_as, samples, who):
    connection = samples["connection"]
    client = client_as(who)
    body = fixture_bytes("loop/01_return_created_5001.json")
    url = f"/webhooks/{connection.platform}/{connection.slug}/"
    assert client.post(url, body, content_type="application/json").status_code == 401, who
    unknown = client.post("/webhooks/loop/no-such/", body, content_type="application/json")
    assert unknown.status_code == 404, who
    assert client.get(url).status_code == 405, who


def test_the_webhook_takes_its_signature(client, samples):
    connection = samples["connection"]
    body = fixture_bytes("loop/01_return_created_5001.json")
    signature = registry.get(connection.platform).signature_for(connection.options)
    header = "HTTP_" + signature.header.upper().replace("-", "_")
    response = client.post(
        f"/webhooks/{connection.platform}/{connection.slug}/",
        body,
        content_type="application/json",
        **{header: signature.compute(connection.webhook_secret, body)},
    )
    assert response.status_code == 202, response.content


# --- Open routes ----------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO)
def test_health_and_login_are_open_and_logout_is_post_only(client_as, who):
    client = client_as(who)
    assert client.get("/healthz").status_code == 200, who
    assert client.get(reverse("login")).status_code == 200, who
    logout = client.get(reverse("logout"))
    if who == "anonymous":  # nothing to log out of: sent to log in like any page
        assert logout.status_code == 302 and "/accounts/login/" in logout["Location"]
    else:
        assert logout.status_code == 405, who
