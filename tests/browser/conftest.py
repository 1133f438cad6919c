"""Browser tests: Playwright fixtures (see fixtures.py) and the web app helpers from support.py.

`serve_app(settings, store=None)`, `make_settings(...)` and `RasaStandIn` live in browser.support.
"""
from __future__ import annotations

import os

import pytest

from browser.fixtures import artifacts, axe_source, browser, new_page, page  # noqa: F401  (fixtures)
from support import RasaStandIn, make_settings, serve_app  # noqa: F401  (re-exported helpers)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
