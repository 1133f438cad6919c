"""A visitor in real Chromium, using the widget against the whole running assistant, then staff."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.stack, pytest.mark.browser]

REFERENCE = re.compile(r"RG-[A-Z0-9]{6}")


def send(page, text: str) -> None:
    page.locator("#rgw-input").fill(text)
    page.keyboard.press("Enter")


def test_visitor_asks_requests_a_callback_and_staff_find_it(page, stack, artifacts):
    page.goto(stack.web_url + "/")
    for _ in range(40):  # the keyboard alone reaches the launcher
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('.rgw-launcher')"):
            break
    page.keyboard.press("Enter")
    expect(page.locator("#rgw-input")).to_be_focused()
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("automated assistant", timeout=30_000)

    send(page, "what is restorative justice?")
    expect(log).to_contain_text("Trained facilitators", timeout=30_000)

    send(page, "can someone ring me back please")
    expect(log).to_contain_text("Is that OK?", timeout=30_000)
    page.get_by_role("button", name="Yes, that's OK").last.click()
    expect(log).to_contain_text("What name should the team ask for", timeout=30_000)
    send(page, "Robin")
    expect(log).to_contain_text("Which UK phone number", timeout=30_000)
    send(page, "+44 (0)1452 496 000")
    expect(log).to_contain_text("is it safe to leave a voicemail", timeout=30_000)
    page.get_by_role("button", name="No, please don't").last.click()
    expect(log).to_contain_text("When is a good time to call?", timeout=30_000)
    page.get_by_role("button", name="Morning").last.click()
    expect(log).to_contain_text("who you are in this", timeout=30_000)
    page.get_by_role("button", name="Skip").last.click()
    expect(log).to_contain_text("Anything short you'd like the team to know", timeout=30_000)
    page.get_by_role("button", name="Skip").last.click()
    expect(log).to_contain_text("Shall I send this to the team?", timeout=30_000)
    expect(log).to_contain_text("01452 496000")
    page.get_by_role("button", name="Yes, send it").last.click()
    expect(log).to_contain_text("Your reference is", timeout=30_000)
    reference = REFERENCE.search(log.inner_text()).group(0)
    page.screenshot(path=str(artifacts / "stack-callback.png"), full_page=True)

    page.goto(stack.web_url + "/staff")
    page.get_by_label("Password").fill(stack.staff_password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    page.get_by_role("link", name=reference).click()
    details = page.locator(".details")
    expect(details).to_contain_text("Robin")
    # As staff dial it, and a tel: link with the number as stored (E.164).
    expect(details.get_by_role("link", name="01452 496000")).to_have_attribute("href", "tel:+441452496000")
    expect(page.locator(".safety.unsafe")).to_be_visible()
    assert page.external_requests == []
