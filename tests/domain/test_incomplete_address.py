"""A return Khaos would refuse for want of an invoice address or contact name is held with
``incomplete_address`` (cx), never served; its fix is the customer row, pre-filled with
what the platform did send; saving that row (admin, API, or an import of Khaos's customer
export) moves the return on and it is served with the row's address."""

import dataclasses
import html
import io
import re
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from returns_hub import documents, signals, tasks
from returns_hub.models import CustomerMapping, ExceptionCase, Posting
from returns_hub.services import actions
from tests.conftest import khaos_basic
from tests.engine_events import apply, apply_together, exchange, graded, opened, unit

pytestmark = pytest.mark.django_db

EMAIL = "nora.quinn@example.com"
# A whole name and address for EMAIL, as a customer row holds them.
NORA = {"name": "Nora Quinn", "line1": "4 Kiln Row", "town": "Whitby", "country": "GB"}


def served_refs(client, endpoint="returns"):
    """What Khaos downloads now (first contact: everything servable)."""
    page = documents.loads(client.get(f"/khaos/hf/{endpoint}", **khaos_basic()).content)
    if endpoint == "returns":
        return [document["AssociatedRef"] for document in page["Returns"]]
    return [document["Header"]["AssociatedRef"] for document in page["Orders"]]


def rebound_return(workspace, rid="AD1", *, email=EMAIL, name="", address=None, order="1050"):
    """A ReBound return graded restocked: due to post now, as far as the engine goes."""
    event = dataclasses.replace(
        opened(
            rid, [unit("1", "HF-ACC-SCF-LAM-GRY", "35.00")], order=order, email=email, name=name
        ),
        address=address or {},
    )
    return apply_together(workspace.connections["rebound"], event, graded(rid, "1", "restocked"))


def customer_row(**fields):
    """The customer row for EMAIL (URN WEB500), with ``fields`` of its name and address."""
    return CustomerMapping.objects.create(email=EMAIL, urn="WEB500", **fields)


def assert_invoiced_to_nora_at_kiln_row(doc):
    """The document is invoiced to Nora Quinn at 4 Kiln Row, Whitby YO21 3AA."""
    assert doc["InvoiceAddress"] == {
        "Line1": "4 Kiln Row",
        "Town": "Whitby",
        "Postcode": "YO21 3AA",
        "Country": {"Code": "GB"},
    }
    assert doc["InvoiceContact"] == {"Forename": "Nora", "Surname": "Quinn", "Email": EMAIL}


def open_cases(ret):
    return list(ret.exceptions.filter(status="open").order_by("id"))


def _split(url):
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


# --- where the address comes from ----------------------------------------------------


def test_the_platforms_address_and_name_are_used_when_complete(workspace):
    customer_row(name="Someone Else", line1="9 Other Road", town="Leeds", country="GB")
    ret = rebound_return(
        workspace,
        name="Nora Quinn",
        address={
            "line1": "4 Kiln Row",
            "town": "Whitby",
            "postcode": "YO21 3AA",
            "country_code": "GB",
        },
    )
    assert_invoiced_to_nora_at_kiln_row(ret.postings.get().payload)


def test_the_customer_row_gives_what_the_platform_did_not_send(client, workspace):
    # Happy Returns sends no address and no name: the fixtures' customer rows carry both.
    ret = rebound_return(workspace, "HRLIKE", email=" Siobhan.OConnell@Example.com ")
    posting = ret.postings.get()
    assert posting.state == "ready" and not open_cases(ret)
    doc = posting.payload
    assert doc["URN"] == "WEB10241"
    assert doc["InvoiceAddress"] == {
        "Line1": "6 Belgrave Terrace",
        "Town": "Newcastle upon Tyne",
        "Postcode": "NE4 6AJ",
        "Country": {"Code": "GB"},
    }
    assert doc["InvoiceContact"] == {
        "Forename": "Siobhan",
        "Surname": "O'Connell",
        "Email": ret.customer_email,
    }
    assert served_refs(client) == ["RB-HRLIKE"]


def test_an_address_is_taken_whole_never_pieced_together(workspace):
    # The platform has a line and a town but no country; the row has a different address.
    customer_row(line1="9 Other Road", town="Leeds", postcode="LS1 1AA", country="United Kingdom")
    ret = rebound_return(
        workspace, name="Nora Quinn", address={"line1": "4 Kiln Row", "town": "Whitby"}
    )
    assert ret.postings.get().payload["InvoiceAddress"] == {
        "Line1": "9 Other Road",
        "Town": "Leeds",
        "Postcode": "LS1 1AA",
        "Country": {"Name": "United Kingdom"},
    }


# --- neither: held, never served, fixed from the case, then served ------------------


def test_neither_holds_the_return_and_the_prefilled_row_form_moves_it_on(
    client, workspace, role_users, django_capture_on_commit_callbacks
):
    workspace.channel.default_urn = "WEBGUEST"  # the URN is known, the address is not
    workspace.channel.save()
    ret = rebound_return(
        workspace, address={"line1": "4 Kiln Row", "postcode": "YO21 3AA", "country_code": "GB"}
    )

    (case,) = open_cases(ret)
    assert (case.kind, case.owner) == ("incomplete_address", "cx")
    assert "no town and no surname or forename" in case.message
    assert f"no customer row for {EMAIL}" in case.message
    assert case.details["missing"] == ["Town", "Name"]
    posting = ret.postings.get()
    assert (posting.state, posting.document) == ("held", "")
    assert ExceptionCase.objects.get(pk=case.pk).posting == posting
    assert served_refs(client) == []
    assert (
        "RB-AD1"
        not in client.get("/khaos/hf/returns", {"format": "xml"}, **khaos_basic()).content.decode()
    )
    with pytest.raises(actions.ActionError, match="still there"):
        actions.resolve_exception(case, user=role_users["cx"], note="done")

    # The fix: the customer row's form on the return's CX page, with what the platform
    # did send (the same link on the admin's page of the case).
    cx = role_users["cx"]
    cx.is_staff = True  # the demo's team users use the admin
    cx.save()
    client.force_login(cx)
    page = client.get(reverse("admin:returns_hub_exceptioncase_change", args=[case.pk]))
    found = re.search(r'<a href="([^"]+)">Add customer mapping</a>', page.content.decode())
    url = html.unescape(found.group(1))
    assert url == reverse("cx:return", args=[ret.pk]) + "#customer-row"
    form = client.get(url).context["form"]
    initial = {name: form[name].value() for name in ("urn", "line1", "town", "country")}
    assert initial == {"urn": "WEBGUEST", "line1": "4 Kiln Row", "town": "", "country": "GB"}
    assert form.instance.email == EMAIL

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("cx:customer-row", args=[ret.pk]),
            {
                "urn": "WEBGUEST",
                "name": "Nora Quinn",
                "line1": "4 Kiln Row",
                "town": "Whitby",
                "postcode": "YO21 3AA",
                "country": "GB",
            },
        )
    assert response.status_code == 302, response.context["form"].errors

    posting.refresh_from_db()
    case.refresh_from_db()
    assert posting.state == "ready"
    assert case.status == "resolved"
    assert served_refs(client) == ["RB-AD1"]
    assert_invoiced_to_nora_at_kiln_row(Posting.objects.get(associated_ref="RB-AD1").payload)


def test_a_known_customer_without_an_address_gets_their_row_to_complete(
    client, workspace, role_users, django_capture_on_commit_callbacks
):
    row = customer_row()
    ret = rebound_return(workspace, name="Nora Quinn", address={"town": "Whitby"})
    (case,) = open_cases(ret)
    assert "no address line 1 and no country" in case.message
    assert f"customer row for {EMAIL} has none of these either" in case.message
    assert case.details["urn"] == "WEB500"

    client.force_login(role_users["data"])  # data owns the mapping tables too
    role_users["data"].is_staff = True
    role_users["data"].save()
    response = client.get("/api/v1/exceptions/", {"kind": "incomplete_address"})
    (listed,) = response.json()["results"]
    path, query = _split(listed["fix_url"])
    assert (path, query) == (reverse("cx:return", args=[ret.pk]), {})
    form = client.get(listed["fix_url"]).context["form"]
    assert (form["urn"].value(), form["name"].value(), form["town"].value()) == (
        "WEB500",
        "Nora Quinn",
        "Whitby",
    )
    assert form.instance == row

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("cx:customer-row", args=[ret.pk]),
            {
                "urn": "WEB500",
                "name": "Nora Quinn",
                "line1": "4 Kiln Row",
                "town": "Whitby",
                "postcode": "",
                "country": "gb",
            },
        )
    assert response.status_code == 302
    assert ret.postings.get().state == "ready"
    assert ret.postings.get().payload["InvoiceAddress"] == {
        "Line1": "4 Kiln Row",
        "Town": "Whitby",
        "Country": {"Code": "GB"},
    }


def test_the_case_says_what_is_still_missing_as_it_changes(
    workspace, django_capture_on_commit_callbacks
):
    row = customer_row()
    ret = rebound_return(workspace, address={"line1": "4 Kiln Row", "country_code": "GB"})
    (case,) = open_cases(ret)
    assert "this return has no town and no surname or forename" in case.message

    row.name = "Nora Quinn"
    with django_capture_on_commit_callbacks(execute=True):
        row.save()
    (still,) = open_cases(ret)
    assert still.pk == case.pk
    assert "this return has no town." in still.message
    assert "no surname" not in still.message
    assert still.details["missing"] == ["Town"]
    assert ret.postings.get().state == "held"


def test_ignoring_it_withdraws_the_return_for_good(client, workspace, role_users):
    workspace.channel.default_urn = "WEBGUEST"
    workspace.channel.save()
    ret = rebound_return(workspace)
    (case,) = open_cases(ret)
    actions.ignore_exception(case, user=role_users["cx"], note="credited by hand in Khaos")
    posting = ret.postings.get()
    assert posting.state == "withdrawn"
    assert not open_cases(ret)
    customer_row(**NORA)
    assert signals.held_for_customers({EMAIL}) == []  # nothing of that customer is held now
    tasks.reevaluate([ret.pk])  # even evaluated again with the address there: never posted
    assert ret.postings.get().state == "withdrawn"
    assert not open_cases(ret)
    assert served_refs(client) == []


def test_an_exchange_order_is_held_for_the_address_too(
    client, workspace, django_capture_on_commit_callbacks
):
    event = dataclasses.replace(
        opened(
            "5009",
            [unit("1", "HF-KNT-MCR-NVY-M", "49.17", "9.83", outcome="exchange")],
            order="1009",
            email=EMAIL,
            name="",
            exchanges=[exchange("x9", "HF-KNT-MCR-NVY-L", "59.00")],
        ),
        address={},
    )
    workspace.channel.default_urn = "WEBGUEST"
    workspace.channel.save()
    ret = apply(workspace.connections["loop"], event)
    (case,) = open_cases(ret)
    assert case.kind == "incomplete_address"
    assert case.message.startswith("Exchange order for HF-KNT-MCR-NVY-L is held: ")
    assert case.details["exchange_id"] == ret.exchanges.get().pk
    assert served_refs(client, "orders") == []

    with django_capture_on_commit_callbacks(execute=True):
        customer_row(**NORA)
    assert served_refs(client, "orders") == ["LOOP-5009-X"]
    order = Posting.objects.get(associated_ref="LOOP-5009-X").payload
    assert order["Customer"]["URN"] == "WEB500"
    assert order["DeliveryAddress"] == {
        "Line1": "4 Kiln Row",
        "Town": "Whitby",
        "Country": {"Code": "GB"},
    }
    assert not open_cases(ret)


# --- saving a customer row re-evaluates that customer's held returns ---------------


def test_a_customer_row_re_evaluates_only_its_customers_held_returns(
    workspace, monkeypatch, django_capture_on_commit_callbacks
):
    held = rebound_return(workspace, email=" Nora.Quinn@Example.com")
    other = rebound_return(workspace, "AD2", email="someone@example.com", order="1051")
    assert open_cases(held) and open_cases(other)
    calls = []
    monkeypatch.setattr("returns_hub.signals.async_task", lambda *a, **k: calls.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        CustomerMapping.objects.create(email="Nora.Quinn@example.com", urn="WEB500")
        CustomerMapping.objects.create(email="unrelated@example.com", urn="WEB501")
    assert calls == [("returns_hub.tasks.reevaluate", [held.pk])]

    calls.clear()
    monkeypatch.setattr(signals, "MAX_EMAILS", 1)  # an import of very many rows
    with django_capture_on_commit_callbacks(execute=True):
        CustomerMapping.objects.create(email="a@example.com", urn="WEB502")
        CustomerMapping.objects.create(email="b@example.com", urn="WEB503")
    assert calls == [
        ("returns_hub.tasks.reevaluate_held", ["incomplete_address", "unknown_customer"])
    ]


# --- the customer table through the API and from Khaos's customer export -----------


def test_the_api_reads_and_writes_the_customer_rows_name_and_address(api_client_for, workspace):
    api = api_client_for("data")
    sent = {
        "email": " Nora.Quinn@Example.com ",
        "urn": "WEB500",
        "name": "Nora Quinn",
        "line1": "4 Kiln Row",
        "town": "Whitby",
        "postcode": "YO21 3AA",
        "country": "GB",
    }
    response = api.post("/api/v1/mappings/customers/", sent, format="json")
    assert response.status_code == 201, response.json()
    # All of it back as sent, the email normalised.
    assert {k: v for k, v in response.json().items() if k != "id"} == {**sent, "email": EMAIL}
    row = response.json()["id"]
    assert (
        api.patch(
            f"/api/v1/mappings/customers/{row}/", {"town": "Scarborough"}, format="json"
        ).json()["town"]
        == "Scarborough"
    )
    bad = api.patch(f"/api/v1/mappings/customers/{row}/", {"line1": "4 Kiln\nRow"}, format="json")
    assert bad.status_code == 400 and "line1" in bad.json()
    # email and urn alone, as before: the address parts are optional.
    plain = api.post(
        "/api/v1/mappings/customers/", {"email": "x@example.com", "urn": "WEB9"}, format="json"
    )
    assert plain.status_code == 201 and plain.json()["line1"] == ""


KHAOS_EXPORT = (
    "COMPANY_CODE,COMPANY_NAME,CONTACT:FORENAME,CONTACT:SURNAME,ADDRESS:ADDRESS1,"
    "ADDRESS:ADDRESS2,ADDRESS:TOWN,ADDRESS:POSTCODE,ADDRESS:COUNTRY2_CODE,CONTACT:EMAIL,"
    "COMPCLASS_ID\r\n"
    "WEB500,Mrs N Quinn,Nora,Quinn,4 Kiln Row,,Whitby,YO21 3AA,GB,Nora.Quinn@example.com,Retail\r\n"
    "WEB501,Phone Order Ltd,,,1 Dock St,,Hull,HU1 1AA,GB,,Trade\r\n"
)


def test_khaos_customer_export_previews_then_applies_and_moves_returns_on(
    tmp_path, capsys, workspace, django_capture_on_commit_callbacks
):
    ret = rebound_return(workspace)
    assert {case.kind for case in open_cases(ret)} == {"incomplete_address", "unknown_customer"}
    path = tmp_path / "customers.csv"
    path.write_text(KHAOS_EXPORT)

    call_command("import_mappings", "customers", str(path))
    out = capsys.readouterr().out
    assert "new 1" in out and "unchanged 1" in out and "Preview only" in out
    assert not CustomerMapping.objects.filter(email=EMAIL).exists()  # a preview writes nothing

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_mappings", "customers", str(path), "--apply")
    row = CustomerMapping.objects.get(urn="WEB500")
    assert (row.email, row.urn, row.name, row.line1, row.town, row.postcode, row.country) == (
        EMAIL,
        "WEB500",
        "Nora Quinn",
        "4 Kiln Row",
        "Whitby",
        "YO21 3AA",
        "GB",
    )  # the second row has no email: no return can match it, so it is skipped
    assert ret.postings.get().state == "ready"
    assert not open_cases(ret)

    # Again: nothing changes. Our own email,urn file leaves the address as it is.
    call_command("import_mappings", "customers", str(path), "--apply")
    assert "new 0, update 0, unchanged 2" in capsys.readouterr().out
    ours = tmp_path / "ours.csv"
    ours.write_text(f"email,urn\n{EMAIL},WEB600\n")
    call_command("import_mappings", "customers", str(ours), "--apply")
    row.refresh_from_db()
    assert (row.urn, row.line1, row.town) == ("WEB600", "4 Kiln Row", "Whitby")


def test_khaos_customer_export_as_xlsx_with_report_headers(tmp_path, capsys, workspace):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["URN", "Company Name", "Address 1", "Town", "Postcode", "Country", "Email"])
    values = ["WEB500", "Nora Quinn", "4 Kiln Row", "Whitby", "YO21 3AA", "United Kingdom"]
    sheet.append([*values, "nora.quinn@example.com"])
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "customers.xlsx"
    path.write_bytes(buffer.getvalue())
    call_command("import_mappings", "customers", str(path), "--apply")
    assert "new 1" in capsys.readouterr().out
    row = CustomerMapping.objects.get(urn="WEB500")
    assert [row.urn, row.name, row.line1, row.town, row.postcode, row.country] == values


def test_a_bad_row_in_a_customer_export_imports_nothing(tmp_path, capsys, workspace):
    path = tmp_path / "customers.csv"
    path.write_text(KHAOS_EXPORT + 'WEB502,Bad,,,"1 Line\nBreak",,York,YO1,GB,bad@example.com,\r\n')
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_mappings", "customers", str(path), "--apply")
    assert "control character" in capsys.readouterr().err
    assert not CustomerMapping.objects.filter(urn__in=["WEB500", "WEB501", "WEB502"]).exists()


def test_the_admin_lists_and_exports_the_customer_rows_address(client, role_users, workspace):
    client.force_login(role_users["admin"])
    listing = client.get(reverse("admin:returns_hub_customermapping_changelist")).content.decode()
    assert "6 Belgrave Terrace" in listing and "Newcastle upon Tyne" in listing
    from returns_hub.resources import CustomerMappingResource

    exported = CustomerMappingResource().export().csv.splitlines()
    assert exported[0] == "email,urn,name,line1,town,postcode,country"
    assert (
        "siobhan.oconnell@example.com,WEB10241,Siobhan O'Connell,6 Belgrave Terrace,"
        "Newcastle upon Tyne,NE4 6AJ,GB" in exported
    )


def test_the_admin_imports_khaos_customer_export_after_a_preview(
    client, role_users, workspace, django_capture_on_commit_callbacks
):
    ret = rebound_return(workspace)
    cx = role_users["cx"]
    cx.is_staff = True
    cx.save()
    client.force_login(cx)  # cx owns incomplete_address and may add customer rows
    upload = io.BytesIO(KHAOS_EXPORT.encode())
    upload.name = "khaos-customers.csv"
    url = reverse("admin:returns_hub_customermapping_import")
    preview = client.post(url, {"import_file": upload, "format": "0", "resource": "0"})
    page = preview.content.decode()
    assert preview.status_code == 200 and "Whitby" in page and "4 Kiln Row" in page
    assert not CustomerMapping.objects.filter(email=EMAIL).exists()  # nothing until confirmed

    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    confirm = {k: html.unescape(v) for k, v in hidden.items() if k != "csrfmiddlewaretoken"}
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse("admin:returns_hub_customermapping_process_import"), confirm, follow=True
        )
    assert done.status_code == 200
    assert CustomerMapping.objects.get(email=EMAIL).town == "Whitby"
    assert ret.postings.get().state == "ready"
