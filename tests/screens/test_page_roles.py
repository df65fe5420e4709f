"""The page and role manifest: every screen URL, every role and anonymous, and the answer.

``PAGES`` names every route under the screens (``returns_hub.screens.urls``) and
``/finance/`` with sample arguments and the roles allowed in. A role not allowed gets
403; an allowed role gets past the permission check (its GET answers 200, or 404 where
the sample argument names nothing, never 403); anyone not logged in is sent to log in.
A route missing from ``PAGES`` fails ``test_every_screen_url_is_in_the_manifest``, so a
page cannot be added without its row. POST-only routes are checked for the roles
refused (an allowed role's POST would act: each team's own tests post as allowed roles).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests import factories

pytestmark = pytest.mark.django_db

ROLES = ("finance", "warehouse", "cx", "data", "admin", "nobody")
EVERY_TEAM = frozenset({"finance", "warehouse", "cx", "data", "admin"})
FINANCE = frozenset({"finance", "admin"})
WAREHOUSE = frozenset({"warehouse", "admin"})
DATA = frozenset({"data", "admin"})
CUSTOMER_ROWS = frozenset({"cx", "data", "admin"})  # change_customermapping
SKU_VIEWERS = frozenset({"finance", "data", "admin"})  # view_skumapping
SCREEN_URLCONFS = ("returns_hub.screens.urls", "reconciliation.urls")


@dataclass(frozen=True)
class Page:
    kwargs: dict
    allowed: frozenset
    post_only: bool = False
    query: str = ""


# Acting on a case needs its team: the sample case (an unknown SKU) is the data team's.
CASE_OWNER = DATA

# Sample arguments: "<return>", "<unit>", "<case>", "<connection>", "<channel>" are
# replaced by the sample rows made below; other values are used as they are.
PAGES: dict[str, Page] = {
    # dashboard, saved filters, one return (this file's owner)
    "home": Page({}, EVERY_TEAM | {"nobody"}),
    "saved-filter-menu": Page({}, EVERY_TEAM, query="?screen=exceptions:index"),
    "save-filter": Page({}, EVERY_TEAM, post_only=True),
    "delete-filter": Page({"pk": 999999}, EVERY_TEAM, post_only=True),
    "return-detail": Page({"pk": "<return>"}, EVERY_TEAM),
    "return-approve-value": Page({"pk": "<return>"}, FINANCE, post_only=True),
    # warehouse
    "warehouse:index": Page({}, WAREHOUSE),
    "warehouse:scan": Page({}, WAREHOUSE, query="?code=NOTHING-1"),
    "warehouse:card": Page({"pk": "<return>"}, WAREHOUSE),
    "warehouse:receive": Page({"pk": "<return>", "unit_id": "<unit>"}, WAREHOUSE, post_only=True),
    "warehouse:grade": Page({"pk": "<return>", "unit_id": "<unit>"}, WAREHOUSE, post_only=True),
    "warehouse:pallet": Page({"reference": "PALLET-1"}, WAREHOUSE),
    # cx
    "cx:index": Page({}, EVERY_TEAM),
    "cx:return": Page({"pk": "<return>"}, EVERY_TEAM),
    "cx:customer-row": Page({"pk": "<return>"}, CUSTOMER_ROWS, post_only=True),
    # exceptions
    "exceptions:index": Page({}, EVERY_TEAM),
    "exceptions:case": Page({"pk": "<case>"}, EVERY_TEAM),
    "exceptions:bulk": Page({}, EVERY_TEAM, post_only=True),
    "exceptions:assign": Page({"pk": "<case>"}, CASE_OWNER, post_only=True),
    "exceptions:unassign": Page({"pk": "<case>"}, CASE_OWNER, post_only=True),
    "exceptions:resolve": Page({"pk": "<case>"}, CASE_OWNER, post_only=True),
    "exceptions:ignore": Page({"pk": "<case>"}, CASE_OWNER, post_only=True),
    "exceptions:retry": Page({"pk": "<case>"}, CASE_OWNER, post_only=True),
    # Approving needs approve_value (finance) and owning the case: the sample is data's.
    "exceptions:approve-value": Page({"pk": "<case>"}, frozenset({"admin"}), post_only=True),
    # mappings (the SKU table as the sample: finance and data read it, data edits it)
    "mappings:index": Page({}, EVERY_TEAM),
    "mappings:list": Page({"table": "skus"}, SKU_VIEWERS),
    "mappings:export": Page({"table": "skus"}, SKU_VIEWERS),
    "mappings:add": Page({"table": "skus"}, DATA),
    "mappings:edit": Page({"table": "skus", "pk": 999999}, DATA),
    "mappings:delete": Page({"table": "skus", "pk": 999999}, DATA),
    "mappings:history": Page({"table": "skus", "pk": 999999}, SKU_VIEWERS),
    "mappings:import": Page({"table": "skus"}, DATA),
    "mappings:import-preview": Page({"table": "skus", "token": "none"}, DATA),
    "mappings:import-confirm": Page({"table": "skus", "token": "none"}, DATA, post_only=True),
    "mappings:import-cancel": Page({"table": "skus", "token": "none"}, DATA, post_only=True),
    # connections
    "connections:index": Page({}, DATA),
    "connections:channel": Page({"slug": "<channel>"}, DATA),
    "connections:connection": Page({"slug": "<connection>"}, DATA),
    "connections:test-event": Page({"slug": "<connection>"}, DATA, post_only=True),
    # finance
    "finance:index": Page({}, FINANCE),
    "finance:period": Page({"month": "2025-03"}, FINANCE),
    "finance:period-chart": Page({"month": "2025-03"}, FINANCE, query="?currency=GBP"),
    "finance:day": Page({"on": "2025-03-11"}, FINANCE),
    "finance:differences": Page({}, FINANCE),
    "finance:returns": Page({}, FINANCE),
    "finance:postings": Page({}, FINANCE),
    "finance:credit-notes": Page({}, FINANCE),
    "finance:upload-credit-notes": Page({}, FINANCE),
    "finance:credit-note-import": Page({"pk": 999999}, FINANCE),
    "finance:apply-credit-note-import": Page({"pk": 999999}, FINANCE, post_only=True),
    "finance:cancel-credit-note-import": Page({"pk": 999999}, FINANCE, post_only=True),
    "finance:match-credit-note": Page({"code": "CN-NONE"}, FINANCE),
    "finance:accept-difference": Page({}, FINANCE, post_only=True),
    "finance:reopen-difference": Page({}, FINANCE, post_only=True),
    "finance:rules": Page({}, FINANCE),
    "finance:rule-add": Page({}, FINANCE),
    "finance:apply-rules": Page({}, FINANCE, post_only=True),
    "finance:rule-edit": Page({"pk": 999999}, FINANCE),
    "finance:rule-active": Page({"pk": 999999}, FINANCE, post_only=True),
    "finance:rule-move": Page({"pk": 999999}, FINANCE, post_only=True),
    "finance:month-end-pack": Page({}, FINANCE),
    "finance:month-end-pack-status": Page({"pk": 999999}, FINANCE),
    "finance:month-end-pack-download": Page({"pk": 999999}, FINANCE),
}


def _names(patterns, namespace: str = "") -> list[str]:
    names = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names += _names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.append(f"{namespace}{pattern.name}")
    return names


def screen_url_names() -> set[str]:
    """Every named route included from the screens' and finance's URL modules."""
    found = set()
    for pattern in get_resolver().url_patterns:
        if not isinstance(pattern, URLResolver):
            continue
        module = getattr(pattern.urlconf_module, "__name__", pattern.urlconf_name)
        if module in SCREEN_URLCONFS:
            prefix = f"{pattern.namespace}:" if pattern.namespace else ""
            found |= set(_names(pattern.url_patterns, prefix))
    return found


def test_every_screen_url_is_in_the_manifest():
    missing = screen_url_names() - set(PAGES)
    assert not missing, (
        f"screen URLs with no row in PAGES (add their expectations): {sorted(missing)}"
    )


def test_the_manifest_names_no_url_that_is_gone():
    assert set(PAGES) <= screen_url_names()


@pytest.fixture
def samples():
    unit = factories.ReturnUnitFactory()
    ret = unit.return_ref
    case = factories.ExceptionCaseFactory(return_ref=ret, unit=unit)
    return {
        "<return>": ret.pk,
        "<unit>": unit.pk,
        "<case>": case.pk,
        "<connection>": ret.connection.slug,
        "<channel>": ret.connection.khaos_channel.slug,
    }


def _url(name: str, samples: dict) -> str:
    kwargs = {key: samples.get(value, value) for key, value in PAGES[name].kwargs.items()}
    return reverse(name, kwargs=kwargs) + PAGES[name].query


def _call(client, name: str, samples: dict):
    url = _url(name, samples)
    return client.post(url) if PAGES[name].post_only else client.get(url)


CASES = [(name, role) for name in sorted(PAGES) for role in ROLES]


@pytest.mark.parametrize(("name", "role"), CASES)
def test_each_page_answers_each_role_as_the_manifest_says(client, role_users, samples, name, role):
    page = PAGES[name]
    allowed = role in page.allowed
    client.force_login(role_users[role])
    status = _call(client, name, samples).status_code
    if allowed and page.post_only:
        # An empty POST by someone allowed gets past the permission check: it acts on the
        # sample, or is refused for what it lacks (400, 409, 422), never 403 or 500.
        assert status in (200, 302, 400, 404, 405, 409, 422), f"{name} as {role}: {status}"
    elif allowed:
        assert status in (200, 302, 404), f"{name} as {role}: {status}"
    else:
        assert status == 403, f"{name} as {role}: {status}"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_anyone_not_logged_in_is_sent_to_log_in(client, samples, name):
    response = _call(client, name, samples)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
