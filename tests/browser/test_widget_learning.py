"""The widget's safety line, its Shift-three-times exit, and "Was this helpful?" under FAQ answers.

Real headless Chromium against the real web app and a stand-in for Rasa's REST channel, as in test_widget.py.
"""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from bot.callbacks.store import CallbackStore
from support import RasaStandIn, default_reply, make_settings, serve_app

pytestmark = pytest.mark.browser

DANGER_TEXT = "In danger now? Call 999. This chat is not watched."
FILL_COUNT = 30
FAQ_TEXT = "Restorative justice lets people harmed by a crime talk to the person responsible."


def reply(message: str) -> list:
    if message == "fill the log":
        return [{"recipient_id": "x", "text": f"Filler message {n}.\nIt has two lines."} for n in range(FILL_COUNT)]
    if message == "what is rj":
        return [{"recipient_id": "x", "text": FAQ_TEXT, "utter_action": "utter_faq/what_is_rj"}]
    return default_reply(message)


@pytest.fixture(scope="module")
def rasa():
    with RasaStandIn(reply) as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def web(tmp_path_factory, rasa):
    # With a store and learning on (the default), FAQ answers carry an `answer` id and votes are counted.
    db = tmp_path_factory.mktemp("widget_learning") / "db.sqlite3"
    store = CallbackStore(f"sqlite:///{db}")
    settings = make_settings(db, rasa.url, quick_exit_url=rasa.url + "/exit", extra_origins=(rasa.url,),
                             chat_limit_per_address=100_000, chat_limit_per_sender=100_000)
    assert settings.learning
    with serve_app(settings, store) as running:
        yield running
    store.close()


@pytest.fixture(autouse=True)
def healthy_rasa(rasa):
    rasa.status = 200
    rasa.delay_s = 0.0
    yield


def tab_to(page, selector: str, limit: int = 60, backwards: bool = False) -> None:
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def widget_storage(page) -> dict:
    return page.evaluate(
        "() => Object.fromEntries(Object.keys(sessionStorage).filter(k => k.startsWith('rgChat.'))"
        ".map(k => [k, sessionStorage.getItem(k)]))"
    )


def open_chat(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Chat with us").click()
    expect(page.get_by_role("log")).to_contain_text("What would you like to know?")


def settled(page) -> None:
    """Waits for the panel's opening animation (if motion is allowed) to end, so positions can be compared."""
    page.locator(".rgw-panel").evaluate("p => Promise.all(p.getAnimations().map(a => a.finished))")


def same_box(a: dict, b: dict) -> bool:
    return all(abs(a[k] - b[k]) <= 1 for k in ("x", "y", "width", "height"))


def say(page, text: str) -> None:
    page.locator("#rgw-input").fill(text)
    page.locator("#rgw-input").press("Enter")


def fully_shown(page, selector: str) -> bool:
    """The element is inside the viewport and nothing covers its middle (it is what a visitor sees there)."""
    return page.evaluate(
        """(s) => {
            const e = document.querySelector(s), r = e.getBoundingClientRect();
            if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) return false;
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return !!hit && e.contains(hit);
        }""",
        selector,
    )


# --- The safety line ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("viewport", [{"width": 320, "height": 640}, {"width": 640, "height": 400},
                                      {"width": 1280, "height": 800}], ids=["320", "zoom200", "desktop"])
def test_danger_line_is_always_shown(new_page, web, artifacts, viewport):
    page = new_page(viewport=viewport)
    open_chat(page, web.url + "/")
    line = page.locator(".rgw-panel .rgw-danger")
    expect(line).to_have_text(DANGER_TEXT)
    expect(line).to_be_in_viewport(ratio=1)
    assert fully_shown(page, ".rgw-danger")
    call = line.get_by_role("link", name="999")
    expect(call).to_have_attribute("href", "tel:999")
    # Just under the header, outside the log: not read out again with every message.
    assert page.locator("[role=log] .rgw-danger, [aria-live] .rgw-danger, [role=status] .rgw-danger").count() == 0
    head, safety = page.locator(".rgw-head").bounding_box(), page.locator(".rgw-safety").bounding_box()
    assert abs(safety["y"] - (head["y"] + head["height"])) <= 1
    assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"]
    # Nothing in the line is cut off sideways.
    assert page.evaluate("() => { const e = document.querySelector('.rgw-safety'); "
                         "return e.scrollWidth <= e.clientWidth; }")
    page.screenshot(path=str(artifacts / f"widget-safety-{viewport['width']}x{viewport['height']}.png"))


def test_danger_line_stays_when_the_log_fills(page, web):
    open_chat(page, web.url + "/")
    settled(page)
    before = page.locator(".rgw-danger").bounding_box()
    say(page, "fill the log")
    log = page.get_by_role("log")
    expect(log).to_contain_text(f"Filler message {FILL_COUNT - 1}.")
    assert page.locator(".rgw-bot").count() >= FILL_COUNT
    scrolled = page.evaluate("() => { const l = document.querySelector('.rgw-log'); "
                             "return [l.scrollHeight > l.clientHeight, l.scrollTop > 0]; }")
    assert scrolled == [True, True]  # the log overflowed and scrolled to its end
    expect(page.locator(".rgw-danger")).to_be_in_viewport(ratio=1)
    assert fully_shown(page, ".rgw-danger")
    assert same_box(page.locator(".rgw-danger").bounding_box(), before)
    # Scrolling the log back to the top does not move it either.
    page.locator(".rgw-log").evaluate("l => { l.scrollTop = 0; }")
    assert same_box(page.locator(".rgw-danger").bounding_box(), before)


def test_quick_exit_is_described_by_the_shift_hint(page, web):
    open_chat(page, web.url + "/")
    exit_button = page.get_by_role("button", name="Quick exit")
    expect(exit_button).to_have_accessible_description("To leave quickly, press Shift 3 times.")
    expect(page.locator("#rgw-exit-hint")).to_be_visible()


# --- Shift, Shift, Shift -----------------------------------------------------------------------------------

def start_conversation(page, web) -> str:
    open_chat(page, web.url + "/")
    say(page, "something private")
    expect(page.get_by_role("log")).to_contain_text("You wrote 17 characters.")
    return widget_storage(page)["rgChat.sender"]


def assert_left_and_forgotten(page, web, rasa, old_sender: str) -> None:
    page.wait_for_url(rasa.url + "/exit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Weather forecast")
    # location.replace: Back must not return to the chat page.
    page.go_back()
    assert not page.url.startswith(web.url)
    # sessionStorage belongs to this tab and origin: coming back shows whether the widget's keys were removed.
    page.goto(web.url + "/about")
    storage = widget_storage(page)
    assert "rgChat.log" not in storage and "rgChat.open" not in storage
    assert storage.get("rgChat.sender") != old_sender
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert "something private" not in page.content()


@pytest.mark.parametrize("where", ["widget closed", "typing in the textarea"])
def test_shift_three_times_leaves(page, web, rasa, where):
    old_sender = start_conversation(page, web)
    if where == "widget closed":
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
        page.locator("h1").first.click()  # focus on the page itself, away from the widget
    else:
        page.locator("#rgw-input").focus()
        page.keyboard.type("half a sentence")
    for _ in range(3):
        page.keyboard.press("Shift")
    assert_left_and_forgotten(page, web, rasa, old_sender)


def test_shift_only_counts_three_clean_presses_within_five_seconds(page, web, rasa):
    page.clock.install()  # time still flows, but the test can move it on by five seconds at once
    old_sender = start_conversation(page, web)
    page.locator("#rgw-input").focus()
    page.keyboard.type("x")

    def still_here():
        # quickExit() runs inside the keydown handler, and press() returns once the page has handled the key,
        # so had it run, the log would already be gone from storage and the textarea emptied.
        assert page.url.startswith(web.url)
        assert "rgChat.log" in widget_storage(page)
        expect(page.locator("#rgw-input")).not_to_have_value("")

    # Twice is not enough.
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    still_here()
    # Another key in between starts again: Shift, Shift, a, Shift, Shift.
    page.keyboard.press("a")
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    still_here()
    # Shift used as a modifier (Shift+A) breaks the sequence too.
    page.keyboard.press("b")
    page.keyboard.press("Shift")
    page.keyboard.press("Shift+A")
    page.keyboard.press("Shift")
    still_here()
    # Shift with Ctrl held (as when switching keyboard layout) is not Shift alone.
    page.keyboard.down("Control")
    for _ in range(3):
        page.keyboard.press("Shift")
    page.keyboard.up("Control")
    still_here()
    # A held Shift auto-repeats: one press, however long it is held.
    page.keyboard.press("c")
    page.keyboard.down("Shift")
    page.keyboard.down("Shift")
    page.keyboard.down("Shift")
    page.keyboard.up("Shift")
    page.keyboard.press("Shift")
    still_here()
    # Three presses spread over more than five seconds.
    page.keyboard.press("d")
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    page.clock.fast_forward(5_001)
    page.keyboard.press("Shift")
    still_here()
    # That late press began a new count: two more, quickly, and the visitor is gone.
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    assert_left_and_forgotten(page, web, rasa, old_sender)


# --- "Was this helpful?" -----------------------------------------------------------------------------------

YES, NO = "Yes, this answer helped", "No, this answer didn't help"


def ask_faq(page):
    """Asks the FAQ question; returns the answer's message in the log."""
    say(page, "what is rj")
    message = page.locator(".rgw-bot").filter(has_text=FAQ_TEXT)
    expect(message).to_have_count(1)
    expect(message.get_by_text("Was this helpful?")).to_be_visible()
    return message


def is_feedback(web):
    return lambda r: r.url == web.url + "/feedback" and r.request.method == "POST"


def test_vote_by_keyboard_only(page, web, artifacts):
    page.goto(web.url + "/")
    tab_to(page, ".rgw-launcher")
    page.keyboard.press("Enter")
    expect(page.get_by_role("log")).to_contain_text("What would you like to know?")
    expect(page.locator("#rgw-input")).to_be_focused()
    page.keyboard.type("what is rj")
    page.keyboard.press("Enter")
    message = page.locator(".rgw-bot").filter(has_text=FAQ_TEXT)
    group = message.get_by_role("group", name="Was this helpful?")
    expect(group).to_be_visible()
    yes, no = message.get_by_role("button", name=YES), message.get_by_role("button", name=NO)
    expect(yes).to_have_text("Yes")
    expect(no).to_have_text("No")
    expect(no).to_have_js_property("tagName", "BUTTON")
    settled(page)
    before = message.bounding_box()
    sender = widget_storage(page)["rgChat.sender"]

    tab_to(page, f".rgw-rate-btn[aria-label=\"{NO}\"]", backwards=True)  # back from the textarea to "No"
    expect(no).to_be_focused()
    page.locator(".rgw-panel").screenshot(path=str(artifacts / "widget-rating-asked.png"))
    with page.expect_response(is_feedback(web)) as answered:
        page.keyboard.press("Enter")
    response = answered.value
    assert response.status == 204
    assert response.request.post_data_json == {"sender": sender, "answer": "faq/what_is_rj", "helpful": False}

    thanks = message.get_by_role("status")
    expect(thanks).to_have_text("Thanks for telling us.")
    expect(message.get_by_role("button")).to_have_count(0)
    expect(group).to_have_count(0)
    page.locator(".rgw-panel").screenshot(path=str(artifacts / "widget-rating-thanked.png"))
    expect(thanks).to_be_focused()  # the keyboard user stays where they were, not thrown back to the page top
    after = message.bounding_box()
    assert abs(after["height"] - before["height"]) <= 1 and abs(after["y"] - before["y"]) <= 1, (before, after)
    kept = json.loads(widget_storage(page)["rgChat.log"])
    assert [e.get("voted") for e in kept if e.get("answer") == "faq/what_is_rj"] == [True]

    page.reload()
    message = page.locator(".rgw-bot").filter(has_text=FAQ_TEXT)
    expect(message.get_by_text("Thanks for telling us.")).to_be_visible()
    expect(message.get_by_role("button")).to_have_count(0)
    assert page.console_errors == [] and page.external_requests == []


def test_messages_without_an_answer_id_get_no_vote(page, web):
    open_chat(page, web.url + "/")
    say(page, "hello")
    expect(page.get_by_role("log")).to_contain_text("You wrote 5 characters.")
    assert page.locator(".rgw-rate").count() == 0
    ask_faq(page)
    expect(page.locator(".rgw-rate")).to_have_count(1)  # only the FAQ answer, not the greeting or the rest
    expect(page.get_by_role("button", name=YES)).to_have_count(1)

    # Whatever else a reply might carry in `answer`, only "faq/<id>" gets buttons.
    odd = [{"text": f"Odd {n}.", "answer": value} for n, value in
           enumerate(["faq/What_Is", "faq/", "javascript:alert(1)", "faq/a/b", 7, None, "faq/" + "x" * 61])]
    page.route(web.url + "/chat", lambda route: route.fulfill(json={"messages": odd}))
    say(page, "anything")
    expect(page.get_by_role("log")).to_contain_text(f"Odd {len(odd) - 1}.")
    expect(page.locator(".rgw-rate")).to_have_count(1)


def test_a_vote_that_fails_can_be_given_again_and_never_waits_for_the_chat(page, web, rasa):
    open_chat(page, web.url + "/")
    message = ask_faq(page)
    yes = message.get_by_role("button", name=YES)
    page.route(web.url + "/feedback", lambda route: route.fulfill(status=503, json={"error": "unavailable"}))
    yes.click()
    expect(message.get_by_role("status")).to_have_text("Sorry, that didn't send.")
    expect(yes).to_be_enabled()
    expect(yes).not_to_have_attribute("aria-disabled", "true")
    page.unroute(web.url + "/feedback")

    # A vote is not a chat message: it goes while the assistant is still answering.
    rasa.delay_s = 3.0
    say(page, "slow question")
    expect(page.locator(".rgw-status")).to_have_text("Typing\u2026")
    with page.expect_response(is_feedback(web)) as answered:
        yes.click()
    assert answered.value.status == 204
    assert answered.value.request.post_data_json["helpful"] is True
    expect(message.get_by_role("status")).to_have_text("Thanks for telling us.")
    expect(page.locator(".rgw-status")).to_have_text("Typing\u2026")  # the slow answer is still on its way
    expect(page.get_by_role("log")).to_contain_text("You wrote 13 characters.")
    assert [e for e in page.console_errors if "503" not in e] == []


def test_axe_with_a_rateable_answer(new_page, web, axe_source, artifacts):
    # axe is injected as an inline script, which the page's CSP rightly forbids; bypass it for the checker only.
    page = new_page(bypass_csp=True)
    open_chat(page, web.url + "/")
    ask_faq(page)
    settled(page)
    page.add_script_tag(path=str(axe_source))
    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
    result = page.evaluate("(tags) => axe.run({include: [['.rgw']]}, {runOnly: {type: 'tag', values: tags}})", tags)
    (artifacts / "axe-widget-rating.json").write_text(json.dumps(result["violations"], indent=2))
    found = [f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']]}"
             for v in result["violations"]]
    assert found == [], "\n".join(found)
    assert len(result["passes"]) > 10
