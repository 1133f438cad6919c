"""The chat widget in real headless Chromium, against the real web app and a stand-in for Rasa's REST channel."""
from __future__ import annotations

import json
import uuid

import pytest
from playwright.sync_api import expect

from bot.web.app import UNAVAILABLE_MESSAGE
from bot.web.chat_proxy import TOO_FAST_MESSAGE
from support import RasaStandIn, free_port, make_settings, serve_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def rasa():
    with RasaStandIn() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def web(tmp_path_factory, rasa):
    # Every test's visitor comes from 127.0.0.1, as a whole office might; each visitor keeps the usual limit.
    settings = make_settings(tmp_path_factory.mktemp("widget") / "db.sqlite3", rasa.url,
                             quick_exit_url=rasa.url + "/exit", extra_origins=(rasa.url,),
                             chat_limit_per_address=100_000)
    with serve_app(settings) as running:
        yield running


@pytest.fixture(autouse=True)
def healthy_rasa(rasa):
    rasa.status = 200
    rasa.delay_s = 0.0
    yield


def tab_to(page, selector: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def open_by_keyboard(page, url: str) -> None:
    page.goto(url)
    tab_to(page, ".rgw-launcher")
    page.keyboard.press("Enter")
    expect(page.locator("#rgw-input")).to_be_focused()


def widget_storage(page) -> dict:
    return page.evaluate(
        "() => Object.fromEntries(Object.keys(sessionStorage).filter(k => k.startsWith('rgChat.'))"
        ".map(k => [k, sessionStorage.getItem(k)]))"
    )


def test_keyboard_only_conversation(page, web, rasa, artifacts):
    before = len(rasa.received)
    open_by_keyboard(page, web.url + "/")
    launcher = page.locator(".rgw-launcher")
    expect(launcher).to_have_attribute("aria-expanded", "true")
    dialog = page.get_by_role("dialog", name="Chat with us")
    expect(dialog).to_be_visible()
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_have_attribute("aria-live", "polite")

    expect(log).to_contain_text("Hello. I can answer questions about restorative justice.")
    expect(log).to_contain_text("What would you like to know?")
    greet = rasa.received[before]
    assert greet["message"] == "/greet"
    assert uuid.UUID(greet["sender"]).version == 4
    assert page.locator(".rgw-user").count() == 0  # the hidden greeting request is not shown as a user bubble

    # Suggested replies are real buttons, reached and pressed with the keyboard.
    choice = page.get_by_role("button", name="Is it confidential?")
    expect(choice).to_have_js_property("tagName", "BUTTON")
    page.keyboard.press("Shift+Tab")
    expect(choice).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".rgw-user").last).to_contain_text("Is it confidential?")
    expect(log).to_contain_text("What you tell us is kept confidential.")
    assert rasa.received[-1]["message"] == "/ask_confidential"
    expect(page.get_by_role("button", name="What is it?")).to_be_disabled()
    expect(choice).to_be_disabled()
    reply = page.locator(".rgw-bot .rgw-text").last
    assert reply.inner_text() == "What you tell us is kept confidential.\nThere are a few limits."

    # Typing a question and pressing Enter sends it; the answer is read back.
    page.locator("#rgw-input").focus()
    page.keyboard.type("Do I have to meet them?")
    page.keyboard.press("Enter")
    expect(log).to_contain_text("You wrote 23 characters.")
    expect(page.locator("#rgw-input")).to_have_value("")
    assert rasa.received[-1] == {"sender": greet["sender"], "message": "Do I have to meet them?"}
    page.screenshot(path=str(artifacts / "widget-desktop.png"))

    # Escape closes the panel and puts focus back on the launcher, which shows a visible focus ring.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    assert page.external_requests == [] and page.console_errors == []


def test_typing_indicator_is_announced(page, web, rasa):
    open_by_keyboard(page, web.url + "/")
    expect(page.get_by_role("log")).to_contain_text("What would you like to know?")
    rasa.delay_s = 1.0
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    status = page.get_by_role("status")
    expect(status).to_have_text("Typing\u2026")
    expect(page.get_by_role("log")).to_contain_text("You wrote 5 characters.")
    expect(status).to_have_text("")


def test_reply_markup_never_runs_or_links(page, web):
    open_by_keyboard(page, web.url + "/")
    expect(page.get_by_role("log")).to_contain_text("What would you like to know?")
    page.keyboard.type("inject something")
    page.keyboard.press("Enter")
    message = page.locator(".rgw-bot .rgw-text").last
    expect(message).to_contain_text('<img src=x onerror="window.__pwned=1">')
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator(".rgw img, .rgw script").count() == 0
    hrefs = page.locator(".rgw-log a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["https://example.org/info"]
    link = page.locator(".rgw-log a")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(message).to_contain_text("javascript:window.__pwned=4")


def test_conversation_survives_navigation(page, web, rasa):
    open_by_keyboard(page, web.url + "/")
    # Typed before the greeting arrives, the keys may reach the page before the input has focus.
    expect(page.get_by_role("log")).to_contain_text("What would you like to know?")
    page.keyboard.type("first question")
    page.keyboard.press("Enter")
    expect(page.get_by_role("log")).to_contain_text("You wrote 14 characters.")
    sender = widget_storage(page)["rgChat.sender"]
    greetings = sum(1 for r in rasa.received if r["message"] == "/greet")

    page.get_by_role("link", name="About restorative justice").first.click()
    page.wait_for_url(web.url + "/about")
    expect(page.get_by_role("heading", level=1)).to_have_text("About restorative justice")
    log = page.get_by_role("log")
    expect(page.get_by_role("dialog")).to_be_visible()  # it was open, so it opens again
    expect(log).to_contain_text("first question")
    expect(log).to_contain_text("You wrote 14 characters.")
    expect(page.get_by_role("button", name="What is it?")).to_be_visible()
    assert widget_storage(page)["rgChat.sender"] == sender
    page.locator("#rgw-input").fill("second question")
    page.locator("#rgw-input").press("Enter")
    expect(log).to_contain_text("You wrote 15 characters.")
    assert rasa.received[-1]["sender"] == sender
    assert sum(1 for r in rasa.received if r["message"] == "/greet") == greetings


def test_quick_exit_clears_and_leaves(page, web, rasa):
    open_by_keyboard(page, web.url + "/")
    page.keyboard.type("something private")
    page.keyboard.press("Enter")
    expect(page.get_by_role("log")).to_contain_text("You wrote 17 characters.")
    old_sender = widget_storage(page)["rgChat.sender"]

    exit_button = page.get_by_role("button", name="Quick exit")
    expect(exit_button).to_be_visible()
    exit_button.click()
    page.wait_for_url(rasa.url + "/exit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Weather forecast")

    # location.replace: Back must not return to the chat page.
    page.go_back()
    assert not page.url.startswith(web.url)

    page.goto(web.url + "/about")
    storage = widget_storage(page)
    assert "rgChat.log" not in storage and storage.get("rgChat.sender") != old_sender
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert "something private" not in page.content()


def test_quick_exit_by_keyboard_from_the_header(page, web, rasa):
    open_by_keyboard(page, web.url + "/")
    page.keyboard.press("Shift+Tab")  # focus goes backwards through the panel...
    tab_to(page, ".rgw-exit")
    page.keyboard.press("Enter")
    page.wait_for_url(rasa.url + "/exit")


def test_unreachable_server_shows_help_and_retry(new_page, tmp_path, rasa):
    settings = make_settings(tmp_path / "db.sqlite3", f"http://127.0.0.1:{free_port()}")
    with serve_app(settings) as running:
        page = new_page()
        open_by_keyboard(page, running.url + "/")
        error = page.locator(".rgw-error")
        expect(error).to_contain_text(UNAVAILABLE_MESSAGE)
        expect(page.get_by_role("button", name="Try again")).to_be_visible()


def test_retry_after_a_failure(page, web, rasa):
    rasa.status = 500
    open_by_keyboard(page, web.url + "/")
    expect(page.locator(".rgw-error")).to_contain_text(UNAVAILABLE_MESSAGE)
    page.keyboard.type("are you there?")
    page.keyboard.press("Enter")
    expect(page.locator(".rgw-error")).to_have_count(2)
    rasa.status = 200
    page.get_by_role("button", name="Try again").last.click()
    expect(page.get_by_role("log")).to_contain_text("You wrote 14 characters.")
    assert rasa.received[-1]["message"] == "are you there?"


def test_sending_too_fast_is_explained_and_the_message_kept(new_page, tmp_path, rasa):
    # One message at once, then one every 20 s; the greeting uses the first.
    settings = make_settings(tmp_path / "db.sqlite3", rasa.url, chat_limit_per_sender=3)
    with serve_app(settings) as running:
        now = [1000.0]  # time passes when the test says so, not while it waits
        running.app.ctx.sender_limit.clock = lambda: now[0]
        page = new_page()
        open_by_keyboard(page, running.url + "/")
        log = page.get_by_role("log")
        expect(log).to_contain_text("What would you like to know?")
        sender = widget_storage(page)["rgChat.sender"]

        page.keyboard.type("Can I bring a friend?")
        page.keyboard.press("Enter")
        error = page.locator(".rgw-error")
        expect(error).to_have_text(TOO_FAST_MESSAGE + "Try again")  # in the log, so a screen reader reads it out
        expect(page.locator(".rgw-user").last).to_have_text("You said: Can I bring a friend?")
        assert [r["message"] for r in rasa.received if r["sender"] == sender] == ["/greet"]
        expect(page.get_by_role("status")).to_have_text("")  # not left "typing"

        now[0] += 20.0
        page.get_by_role("button", name="Try again").click()
        expect(log).to_contain_text("You wrote 21 characters.")
        expect(error).to_have_count(0)
        assert [r["message"] for r in rasa.received if r["sender"] == sender] == ["/greet", "Can I bring a friend?"]
        # No script error: only Chromium's own note that a request was answered 429.
        assert all("429" in error for error in page.console_errors), page.console_errors


def test_widget_on_another_site(new_page, web, rasa):
    rasa.pages["/partner"] = (
        "<!doctype html><html lang='en'><head><title>Partner</title></head><body><main><h1>Partner site</h1>"
        f"<script src='{web.url}/widget.js' data-server='{web.url}' data-title='Talk to us' "
        "data-primary-colour='#ffdd00' defer></script></main></body></html>"
    )
    page = new_page()
    page.goto(rasa.url + "/partner")
    launcher = page.get_by_role("button", name="Talk to us")
    launcher.click()
    expect(page.get_by_role("log")).to_contain_text("What would you like to know?")
    # On a light brand colour the header text turns dark to keep its contrast.
    colour = page.evaluate("() => getComputedStyle(document.querySelector('.rgw-head')).color")
    assert colour == "rgb(17, 17, 17)"
    stylesheet = page.evaluate("() => [...document.styleSheets].map(s => s.href).filter(Boolean)")
    assert stylesheet == [web.url + "/widget.css"]
    assert page.external_requests == []


def test_small_screen_and_zoom(new_page, web, artifacts):
    for name, viewport in (("320", {"width": 320, "height": 640}), ("zoom200", {"width": 640, "height": 400})):
        page = new_page(viewport=viewport, reduced_motion="reduce")
        page.goto(web.url + "/")
        page.get_by_role("button", name="Chat with us").click()
        expect(page.get_by_role("log")).to_contain_text("What would you like to know?")
        box = page.locator(".rgw-panel").bounding_box()
        assert box["x"] == 0 and box["width"] == viewport["width"], box
        for control in ("#rgw-input", ".rgw-send", ".rgw-exit", ".rgw-close"):
            expect(page.locator(control)).to_be_in_viewport()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
        animation = page.evaluate("() => getComputedStyle(document.querySelector('.rgw-panel')).animationName")
        assert animation == "none"
        page.screenshot(path=str(artifacts / f"widget-{name}.png"))


def test_axe_with_widget_open(new_page, web, axe_source, artifacts):
    # axe is injected as an inline script, which the page's CSP rightly forbids; bypass it for the checker only.
    page = new_page(bypass_csp=True)
    page.goto(web.url + "/")
    page.get_by_role("button", name="Chat with us").click()
    expect(page.get_by_role("log")).to_contain_text("What would you like to know?")
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    expect(page.get_by_role("log")).to_contain_text("You wrote 5 characters.")
    page.add_script_tag(path=str(axe_source))
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', "
        "'best-practice']}})"
    )
    (artifacts / "axe-widget-open.json").write_text(json.dumps(result["violations"], indent=2))
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], "\n".join(serious)
    assert len(result["passes"]) > 10


def test_pages_have_no_csp_violations_or_inline_scripts(page, web):
    for path in ("/", "/about", "/embed", "/staff/login"):
        page.goto(web.url + path)
        expect(page.locator("h1")).to_be_visible()
    assert page.console_errors == []
    assert page.external_requests == []
