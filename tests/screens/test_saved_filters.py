"""Saved filters: save a list page's filter, find it in the page's menu, delete only your own."""

from __future__ import annotations

import pytest
from django.test import Client

from returns_hub.models import SavedFilter

pytestmark = pytest.mark.django_db

SCREEN = "finance:postings"


def _save(client, name="Held", query="state=held&after=x~1", shared=False):
    data = {"screen": SCREEN, "name": name, "query": query, "next": "/finance/postings/?state=held"}
    if shared:
        data["shared"] = "on"
    return client.post("/saved-filters/save/", data)


def test_a_list_page_offers_to_save_its_filter(client, role_users):
    client.force_login(role_users["finance"])
    html = client.get("/finance/postings/?period=2025-03").content.decode()
    assert 'action="/saved-filters/save/"' in html
    assert 'name="screen" value="finance:postings"' in html
    assert 'value="period=2025-03"' in html
    assert 'hx-get="/saved-filters/?screen=finance%3Apostings' in html


def test_saving_keeps_the_filter_without_the_page_position(client, role_users):
    client.force_login(role_users["finance"])
    response = _save(client)
    assert response.status_code == 302
    assert response["Location"] == "/finance/postings/?state=held"
    saved = SavedFilter.objects.get()
    assert (saved.user, saved.screen, saved.name, saved.query) == (
        role_users["finance"],
        SCREEN,
        "Held",
        "state=held",
    )


def test_saving_again_under_a_name_replaces_it(client, role_users):
    client.force_login(role_users["finance"])
    _save(client, query="state=held")
    _save(client, query="state=ready")
    assert list(SavedFilter.objects.values_list("query", flat=True)) == ["state=ready"]


def test_a_screen_that_does_not_exist_is_refused(client, role_users):
    client.force_login(role_users["finance"])
    client.post("/saved-filters/save/", {"screen": "nowhere", "name": "x", "query": ""})
    assert not SavedFilter.objects.exists()


def test_the_menu_shows_yours_and_the_shared_ones(client, role_users):
    finance, data = role_users["finance"], role_users["data"]
    SavedFilter.objects.create(user=finance, screen=SCREEN, name="Mine", query="state=held")
    SavedFilter.objects.create(user=data, screen=SCREEN, name="Theirs shared", shared=True)
    SavedFilter.objects.create(user=data, screen=SCREEN, name="Theirs private")
    SavedFilter.objects.create(user=finance, screen="exceptions:index", name="Elsewhere")
    client.force_login(finance)
    html = client.get(f"/saved-filters/?screen={SCREEN}", HTTP_HX_REQUEST="true").content.decode()
    assert 'href="/finance/postings/?state=held">Mine</a>' in html
    assert "Theirs shared" in html and "shared by data-user" in html
    assert "Theirs private" not in html and "Elsewhere" not in html
    assert html.count(">Delete</button>") == 1  # only your own


def test_only_the_owner_deletes_a_filter(client, role_users):
    theirs = SavedFilter.objects.create(
        user=role_users["data"], screen=SCREEN, name="x", shared=True
    )
    for role in ("finance", "admin"):
        client.force_login(role_users[role])
        assert client.post(f"/saved-filters/{theirs.pk}/delete/").status_code == 403
    client.force_login(role_users["data"])
    assert client.post(f"/saved-filters/{theirs.pk}/delete/").status_code == 302
    assert not SavedFilter.objects.exists()


def test_a_person_in_no_team_may_not_save(client, role_users):
    client.force_login(role_users["nobody"])
    assert _save(client).status_code == 403
    assert client.get(f"/saved-filters/?screen={SCREEN}").status_code == 403


def test_saving_needs_the_csrf_token(role_users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(role_users["finance"])
    assert _save(client).status_code == 403


def test_the_menu_is_a_get_and_saving_a_post(client, role_users):
    client.force_login(role_users["finance"])
    assert client.get("/saved-filters/save/").status_code == 405
    assert client.post(f"/saved-filters/?screen={SCREEN}").status_code == 405
