"""Playwright fixtures driving Debian's Chromium (never a downloaded browser).

`browser` (session), `new_page(**context_options)` and `page` (a fresh context each, so storage starts empty),
`artifacts` (screenshot folder, gitignored) and `axe_source` (path of the pinned axe-core).
Every page refuses requests that leave loopback and records them in `page.external_requests`, and collects
console errors in `page.console_errors`, so a test can prove nothing came from a third party.

Tests outside tests/browser/ can use them with `from browser.fixtures import browser, new_page, page, artifacts`.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.settings import PROJECT_ROOT

__all__ = ["browser", "new_page", "page", "artifacts", "axe_source", "CHROMIUM", "CHROMIUM_ARGS", "ARTIFACTS"]

CHROMIUM = os.environ.get("RG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


def _missing(what: str, fix: str):
    message = f"{what} is missing ({fix}: run 'bash scripts/install-test-deps.sh')"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# One browser per module, not per session: Playwright's synchronous API leaves its event loop marked as running
# in the main thread while it is open, and asyncio tests collected after the browser tests could not run.
@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        _missing(CHROMIUM, "Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def axe_source() -> Path:
    if not AXE.is_file():
        _missing(str(AXE), "npm ci installs the pinned axe-core")
    return AXE


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture()
def new_page(browser):
    contexts = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.external_requests = []
        page.console_errors = []

        def guard(route):
            host = urlsplit(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
                return route.continue_()
            page.external_requests.append(route.request.url)
            return route.abort()

        context.route("**/*", guard)
        page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
        page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture()
def page(new_page):
    return new_page()
