"""The Content Security Policy: the header on every page, and no page breaks it in a browser."""

from __future__ import annotations

import pytest

from tests import factories

DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "object-src 'none'",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/finance/", "/admin/login/"])
def test_pages_carry_the_policy(client, role_users, url):
    client.force_login(role_users["admin"])
    policy = client.get(url)["Content-Security-Policy"]
    for directive in DIRECTIVES:
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.django_db
def test_the_api_docs_keep_the_policy_with_nothing_inline_or_from_elsewhere(client, role_users):
    """Swagger UI is served by the hub (drf-spectacular-sidecar), its start-up script and
    its page style as files: the page needs nothing the policy forbids."""
    client.force_login(role_users["data"])
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert all(directive in policy for directive in DIRECTIVES)
    page = response.content.decode()
    assert "<style" not in page and "<script>" not in page
    assert "//cdn" not in page and "https://" not in page
    script = client.get("/api/docs/?script")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


# Each screen page as a user who may see it, for the browser walk below.
BROWSER_PAGES = [
    ("finance", "/"),
    ("finance", "/returns/{return}/"),
    ("finance", "/finance/"),
    ("finance", "/finance/periods/2025-03/"),
    ("finance", "/finance/postings/?period=2025-03"),
    ("finance", "/finance/credit-notes/upload/"),
    ("finance", "/finance/rules/"),
    ("finance", "/exceptions/"),
    ("warehouse", "/warehouse/"),
    ("warehouse", "/warehouse/returns/{return}/"),
    ("cx", "/cx/?q={order}"),
    ("cx", "/cx/returns/{return}/"),
    ("data", "/mappings/"),
    ("data", "/mappings/skus/"),
    ("data", "/connections/"),
    ("data", "/api/docs/"),
    ("admin", "/admin/"),
    ("admin", "/admin/returns_hub/return/"),
]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_no_screen_breaks_the_policy_in_a_browser(live_server, browser, role_users):
    ret = factories.ReturnUnitFactory().return_ref
    factories.ExceptionCaseFactory(return_ref=ret)
    factories.PostingFactory(return_ref=ret, document='{"AssociatedRef": "x"}')
    violations: list[str] = []
    by_role: dict[str, list[str]] = {}
    for role, url in BROWSER_PAGES:
        by_role.setdefault(role, []).append(
            url.format(**{"return": ret.pk, "order": ret.order_ref})
        )
    for role, urls in by_role.items():
        context = browser.new_context()
        page = context.new_page()
        page.on(
            "console",
            lambda message, role=role, page=page: (
                violations.append(f"{role} {page.url}: {message.text}")
                if "Content Security Policy" in message.text
                or "Content-Security-Policy" in message.text
                else None
            ),
        )
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("User name").fill(role_users[role].username)
        page.get_by_label("Password").fill("pass-word-123")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")
        for url in urls:
            response = page.goto(f"{live_server.url}{url}")
            assert response.status == 200, f"{role} {url}: {response.status}"
            # htmx's loads (saved-filter menus) run too, so their swaps are checked as well.
            page.wait_for_load_state("networkidle")
            if url == "/api/docs/":  # Swagger UI ran and drew the schema's title
                assert (
                    page.locator(".swagger-ui .info .title")
                    .inner_text()
                    .startswith("Returns hub API")
                )
        context.close()
    assert not violations, "\n".join(violations)
