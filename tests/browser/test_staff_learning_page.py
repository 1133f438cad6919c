"""The staff page "What visitors asked" in Chromium: reached from the list, read with axe, used with the keyboard,
and photographed for the docs (docs/staff-learning.png).

The questions are fictional and already redacted, as LearningRecords keeps them.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from bot.callbacks.store import CallbackStore
from bot.learning.records import LearningRecords, today
from bot.settings import PROJECT_ROOT
from bot.web.passwords import hash_password
from support import make_settings, serve_app

pytestmark = pytest.mark.browser
PASSWORD = "staff learning pass phrase"
SCREENSHOT = PROJECT_ROOT / "docs" / "staff-learning.png"

# (group, text, why it was kept, answer given, days ago); group None: kept since the last grouping.
QUESTIONS = [
    (1, "can i do this if [NAME] is in prison", "not_understood", None, 2),
    (1, "what if he is in prison now", "unhelpful", "faq/prison", 5),
    (1, "can it still happen if hes locked up", "not_understood", None, 9),
    (1, "he got sent down can we still meet", "did_you_mean", None, 16),
    (1, "can i do this if [NAME] is in prison", "unhelpful", "faq/prison", 20),
    (2, "do i have to see him face to face", "did_you_mean", None, 3),
    (2, "can i do it without being in the same room", "did_you_mean", None, 11),
    (2, "i dont want to meet them can i still take part", "not_understood", None, 24),
    (3, "will [NAME] find out where i live", "unhelpful", "faq/details_shared", 6),
    (3, "does he get told my address", "unhelpful", "faq/details_shared", 13),
    (4, "are you open on saturdays", "not_understood", None, 8),
    (None, "can my support worker from [NAME] come too", "not_understood", None, 1),
    (None, "is there parking near your office", "not_understood", None, 0),
    (None, "how long does the whole thing take", "did_you_mean", None, 0),
]
# (answer, helpful votes, unhelpful votes) in each of the last eight weeks, oldest first.
VOTES = {
    "faq/prison": ([1, 0, 2, 1, 0, 1, 1, 0], [0, 1, 1, 2, 1, 2, 3, 1]),
    "faq/what_is_rj": ([3, 4, 2, 5, 3, 6, 4, 2], [0, 1, 0, 0, 1, 0, 0, 0]),
    "faq/details_shared": ([0, 0, 1, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 1, 1, 0]),
    "faq/cost": ([1, 0, 0, 2, 1, 0, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0]),
}


def fill(records: LearningRecords) -> None:
    day = today()
    ids = {}
    for group, text, reason, answer, days_ago in QUESTIONS:
        question = records.keep_question(text, reason, answer, day=day - timedelta(days=days_ago))
        assert question is not None
        if group is not None:
            ids.setdefault(group, []).append(question)
    records.set_groups({question: members[0] for members in ids.values() for question in members})
    this_monday = day - timedelta(days=day.weekday())
    for answer, (helpful, unhelpful) in VOTES.items():
        for weeks_ago, (yes, no) in enumerate(zip(reversed(helpful), reversed(unhelpful))):
            monday = this_monday - timedelta(weeks=weeks_ago)
            for _ in range(yes):
                records.count_vote(answer, True, day=monday)
            for _ in range(no):
                records.count_vote(answer, False, day=monday)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    db = tmp_path_factory.mktemp("staff_learning") / "callbacks.sqlite3"
    store = CallbackStore(f"sqlite:///{db}")
    fill(LearningRecords(store, keep_days=30))
    settings = make_settings(db, staff_password_hash=hash_password(PASSWORD), learning_days=30)
    with serve_app(settings, store) as running:
        yield running
    store.close()


def sign_in(page, url: str) -> None:
    page.goto(url + "/staff/learning")
    expect(page).to_have_url(url + "/staff/login")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Callback requests")).to_be_visible()


def run_axe(page, axe_source):
    page.add_script_tag(path=str(axe_source))
    result = page.evaluate("() => axe.run(document, {runOnly: {type: 'tag', values: "
                           "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})")
    return [f"{v['id']} ({v['impact']}): {v['help']}" for v in result["violations"]], result


def tab_to(page, selector: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_the_page_under_its_own_csp_has_no_errors(new_page, site):
    page = new_page()  # the real CSP: an inline style or script would be refused and reported as an error
    sign_in(page, site.url)
    page.get_by_role("link", name="What visitors asked").click()
    expect(page.get_by_role("heading", name="What visitors asked", level=1)).to_be_visible()
    expect(page.locator("svg.votes-chart")).to_have_count(len(VOTES))
    assert page.console_errors == []
    assert page.external_requests == []


def test_learning_page_with_axe_keyboard_and_screenshot(new_page, site, axe_source, artifacts):
    page = new_page(bypass_csp=True)  # bypass only so axe can be injected
    sign_in(page, site.url)
    page.goto(site.url + "/staff/learning")
    expect(page.get_by_role("link", name="What visitors asked")).to_have_attribute("aria-current", "page")

    # Largest group first, its example prominent and its other wordings behind a disclosure.
    examples = page.locator(".question-group .example")
    expect(examples).to_have_count(4)
    expect(examples.first).to_have_text("can i do this if [NAME] is in prison")
    first = page.locator(".question-group").first
    expect(first).to_contain_text("Asked 5 times")
    expect(first.get_by_text("he got sent down can we still meet")).to_be_hidden()
    first.get_by_text("3 other wordings").click()
    expect(first.get_by_text("he got sent down can we still meet")).to_be_visible()
    expect(page.get_by_role("heading", name="New, not grouped yet")).to_be_visible()

    # Each chart is an image whose name gives the numbers.
    chart = page.get_by_role("img", name="Can it happen if they're in prison?", exact=False).first
    expect(chart).to_be_visible()
    assert "1 helpful and 3 unhelpful" in chart.evaluate("svg => svg.querySelector('title').textContent")

    violations, result = run_axe(page, axe_source)
    (artifacts / "axe-staff-learning.json").write_text(json.dumps(result["violations"], indent=2))
    assert violations == []

    # The download and the grouping button are reachable from the keyboard, in reading order.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.mouse.click(1, 1)
    tab_to(page, 'a[href="/staff/learning/export.yml"]')
    expect(page.get_by_role("link", name="Download for labelling (Rasa NLU YAML)")).to_be_focused()
    tab_to(page, 'form[action="/staff/learning/group"] button')
    expect(page.get_by_role("button", name="Group new questions now")).to_be_focused()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download for labelling (Rasa NLU YAML)").click()
    assert download.value.suggested_filename == "unanswered-questions.yml"

    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
    assert page.external_requests == []
