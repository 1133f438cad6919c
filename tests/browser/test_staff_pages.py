"""The staff pages in Chromium: sign in with the keyboard, read a request, change its status, and axe checks."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from bot.callbacks.store import CallbackDetails, CallbackStore
from bot.web.passwords import hash_password
from support import make_settings, serve_app

pytestmark = pytest.mark.browser
PASSWORD = "staff test pass phrase"


@pytest.fixture(scope="module")
def staff_site(tmp_path_factory):
    db = tmp_path_factory.mktemp("staff") / "callbacks.sqlite3"
    store = CallbackStore(f"sqlite:///{db}")
    reference = store.submit("browser-staff-1", CallbackDetails(
        name="Jo", phone="+447700900321", safe_to_identify=False, best_time="After 6pm",
        role="family_member", note="Prefers a woman caller"))
    settings = make_settings(db, staff_password_hash=hash_password(PASSWORD))
    with serve_app(settings, store) as running:
        yield running, reference
    store.close()


def run_axe(page, axe_source):
    page.add_script_tag(path=str(axe_source))
    result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: "
                           "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})")
    return [f"{v['id']} ({v['impact']}): {v['help']}" for v in result["violations"]
            if v["impact"] in ("serious", "critical")], result


def test_staff_flow_by_keyboard_with_axe(new_page, staff_site, axe_source, artifacts):
    running, reference = staff_site
    page = new_page(bypass_csp=True)  # bypass only so axe can be injected
    page.goto(running.url + "/staff")
    expect(page).to_have_url(running.url + "/staff/login")
    serious, _ = run_axe(page, axe_source)
    assert serious == []
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Callback requests")).to_be_visible()
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    assert "+447700900321" not in page.content()
    serious, _ = run_axe(page, axe_source)
    assert serious == []

    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", name=f"Request {reference}")).to_be_visible()
    expect(page.locator(".safety.unsafe")).to_contain_text("Not safe to identify")
    expect(page.locator(".details")).to_contain_text("07700 900321")  # as staff dial it; stored as +447700900321
    expect(page.get_by_role("link", name="07700 900321")).to_have_attribute("href", "tel:+447700900321")
    serious, result = run_axe(page, axe_source)
    (artifacts / "axe-staff-detail.json").write_text(json.dumps(result["violations"], indent=2))
    assert serious == []
    page.screenshot(path=str(artifacts / "staff-detail.png"), full_page=True)

    page.get_by_role("button", name="Mark in progress").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".details")).to_contain_text("In progress")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(running.url + "/staff/login")
    page.goto(running.url + "/staff")
    expect(page).to_have_url(running.url + "/staff/login")
    assert page.external_requests == []
