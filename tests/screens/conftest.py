"""A real browser (Debian's chromium driven by Playwright) for the screens' live-hub tests."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    # Playwright runs an event loop in this thread; the ORM calls made by the
    # test itself are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_context_options():
    """Options for each test's browser context (a module overrides it, e.g. a viewport)."""
    return {}


@pytest.fixture
def page(browser, browser_context_options):
    context = browser.new_context(**browser_context_options)
    page = context.new_page()
    yield page
    context.close()


README_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshot(page, name: str, *, readme: bool = False) -> None:
    """A full-page screenshot, kept under the data folder's screenshots/; ``readme``: also
    where the README shows it (docs/screenshots/), so each run refreshes the pictures."""
    from django.conf import settings

    path = settings.DATA_DIR / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path / name), full_page=True)
    if readme:
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path / name, README_SCREENSHOTS / name)
