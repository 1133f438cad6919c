"""The staff page "What visitors asked" (/staff/learning) and its NLU export, served for real with a real SQLite store.

The questions and votes are written through LearningRecords, as the chat observer writes them; the page is read as
a member of staff reads it, signed in with the CSRF-protected form.
"""
from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests
import yaml

from bot.callbacks.dialling import dial_format, tel_href
from bot.callbacks.store import CallbackDetails, CallbackStore
from bot.learning import grouping
from bot.learning.answers import answer_label
from bot.learning.grouping import GROUPING_TIMEOUT_S
from bot.learning.records import TO_LABEL, LearningRecords, today
from bot.settings import PROJECT_ROOT
from bot.web import staff_pages
from bot.web.passwords import hash_password
from support import make_settings, serve_app

PASSWORD = "learning page pass phrase"
EVIL = "<script>window.__pwned=1</script> can he see this"
# Already redacted, as keep_question leaves them; fictional.
PRISON = ["can i do this if [NAME] is in prison", "what if he is locked up", "can i do this if [NAME] is in prison"]
COST = ["is there a fee", "how much do you charge"]
WAITING = [EVIL, "do i need a solicitor"]


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("learning") / "callbacks.sqlite3"
    callback_store = CallbackStore(f"sqlite:///{path}")
    yield callback_store
    callback_store.close()


@pytest.fixture(scope="module")
def records(store):
    records = LearningRecords(store, keep_days=30)
    day = today()
    prison = [records.keep_question(text, reason, day=day - timedelta(days=n))
              for n, (text, reason) in enumerate(zip(PRISON, ["not_understood", "did_you_mean", "not_understood"]))]
    cost = [records.keep_question(text, "unhelpful", "faq/cost", day=day - timedelta(days=10)) for text in COST]
    waiting = [records.keep_question(text, "not_understood", day=day) for text in WAITING]
    assert None not in prison + cost + waiting
    records.set_groups({**{q: cost[0] for q in cost}, **{q: prison[0] for q in prison}})
    for days_ago, answer, helpful in [(0, "faq/cost", False), (1, "faq/cost", False), (8, "faq/cost", True),
                                      (0, "faq/what_is_rj", True), (15, "faq/what_is_rj", True),
                                      (22, "faq/what_is_rj", False)]:
        records.count_vote(answer, helpful, day=day - timedelta(days=days_ago))
    return records


@pytest.fixture(scope="module")
def server(tmp_path_factory, store, records, password_hash):
    settings = make_settings(tmp_path_factory.mktemp("unused") / "unused.sqlite3",
                             staff_password_hash=password_hash, learning_days=30)
    with serve_app(settings, store) as running:
        yield running


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "form has no CSRF token"
    return match.group(1)


def signed_in(url: str) -> requests.Session:
    client = requests.Session()
    form = client.get(url + "/staff/login")
    response = client.post(url + "/staff/login", data={"csrf_token": csrf(form.text), "password": PASSWORD},
                           allow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def shown(page: str) -> str:
    """The page's text as a reader sees it: tags gone, entities read, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture()
def staff(server):
    return signed_in(server.url)


def test_signed_out_the_page_redirects_and_the_export_is_refused(server):
    page = requests.get(server.url + "/staff/learning", allow_redirects=False)
    assert page.status_code in (302, 303) and page.headers["Location"] == "/staff/login"
    export = requests.get(server.url + "/staff/learning/export.yml", allow_redirects=False)
    assert export.status_code == 401
    assert "prison" not in export.text and "Content-Disposition" not in export.headers
    grouping = requests.post(server.url + "/staff/learning/group", allow_redirects=False)
    assert grouping.status_code in (302, 303) and grouping.headers["Location"] == "/staff/login"


def test_the_list_links_to_the_page(staff, server):
    assert 'href="/staff/learning"' in staff.get(server.url + "/staff").text


def test_groups_largest_first_with_counts_days_and_answers_given(staff, server, records):
    response = staff.get(server.url + "/staff/learning")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    text = shown(response.text)
    assert "What visitors asked" in text
    prison, cost, waiting = (text.index(PRISON[0]), text.index(COST[0]), text.index("New, not grouped yet"))
    assert prison < cost < waiting
    assert "Asked 3 times" in text and "Asked 2 times" in text
    assert "1 other wording" in text and "what if he is locked up" in text  # the repeated example is counted once
    groups = records.groups()
    for group in groups:
        assert "; ".join(group.answer_labels()) in text
    assert f"{answer_label('not_understood')} (2); {answer_label('did_you_mean')} (1)" in text
    assert f"{answer_label('faq/cost')} (2)" in text
    # The questions not grouped yet, last, with the button that groups them.
    after = text[waiting:]
    assert "2 questions" in after and "do i need a solicitor" in after
    assert re.search(r'<form method="post" action="/staff/learning/group"[^>]*>\s*'
                     r'<input type="hidden" name="csrf_token" value="[^"]+">', response.text)
    assert "Group new questions now" in after
    assert "redacted before it was kept" in text and "deleted after 30 days" in text
    assert "RG_LEARNING=off" not in text


def test_visitor_text_is_escaped(staff, server):
    page = staff.get(server.url + "/staff/learning").text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; can he see this" in page
    assert "<script" not in page


def test_votes_table_and_one_accessible_chart_per_answer(staff, server, records):
    page = staff.get(server.url + "/staff/learning").text
    votes = records.votes()
    assert [v.answer for v in votes] == ["faq/cost", "faq/what_is_rj"]  # most unhelpful first
    rows = re.findall(r'<tr>\s*<th scope="row">([^<]+)</th>\s*<td class="number">(\d+)</td>\s*'
                      r'<td class="number">(\d+)</td>\s*<td class="number">(\d+)</td>', page)
    assert [(html.unescape(title), int(h), int(u), int(t)) for title, h, u, t in rows] == [
        (answer_label("faq/cost"), 1, 2, 3), (answer_label("faq/what_is_rj"), 2, 1, 3)]
    charts = re.findall(r"<svg class=\"votes-chart\"(.*?)</svg>", page, flags=re.S)
    assert len(charts) == 2
    for chart, summary in zip(charts, votes):
        assert 'role="img"' in chart and 'aria-labelledby="' in chart
        title = html.unescape(re.search(r"<title id=\"[^\"]+\">(.*?)</title>", chart, flags=re.S).group(1))
        assert title.startswith(summary.title)
        assert len(summary.weeks) == 8
        for monday, helpful, unhelpful in summary.weeks:
            assert f"{monday.day} {monday.strftime('%b %Y')}, {helpful} helpful and {unhelpful} unhelpful" in title
        bars = re.findall(r'<rect class="bar-(helpful|unhelpful)"[^>]*height="(\d+)"', chart)
        assert len(bars) == sum((h > 0) + (u > 0) for _, h, u in summary.weeks)
        assert "style=" not in chart  # the CSP blocks inline styles: SVG attributes and site.css only
    # Each chart's busiest week fills it (48 pixels); the other bars are in proportion.
    for chart, summary in zip(charts, votes):
        heights = [int(h) for _, h in re.findall(r'<rect class="bar-(helpful|unhelpful)"[^>]*height="(\d+)"', chart)]
        top = max(max(h, u) for _, h, u in summary.weeks)
        expected = [max(2, round(n * 48 / top)) for _, h, u in summary.weeks for n in (h, u) if n]
        assert heights == expected and max(heights) == 48
    # The numbers are also there as text, week by week.
    assert page.count('<table class="weeks">') == 2
    assert "style=" not in page


def test_export_downloads_nlu_yaml_to_label(staff, server, records):
    response = staff.get(server.url + "/staff/learning/export.yml")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="unanswered-questions.yml"'
    assert response.headers["Cache-Control"] == "no-store"
    data = yaml.safe_load(response.content.decode("utf-8"))
    assert data["version"] == "3.1" and set(data) == {"version", "nlu"}
    assert [item["intent"] for item in data["nlu"]] == [TO_LABEL] * 3
    examples = [[line[2:] for line in item["examples"].splitlines()] for item in data["nlu"]]
    assert examples == [PRISON[:2], COST, WAITING]


def test_group_button_needs_the_form_token(staff, server, records):
    before = records.ungrouped_count()
    for data in ({}, {"csrf_token": "forged"}):
        response = staff.post(server.url + "/staff/learning/group", data=data, allow_redirects=False)
        assert response.status_code == 403
    assert records.ungrouped_count() == before


def test_with_collection_switched_off_the_page_says_so_and_shows_what_is_kept(tmp_path, store, records,
                                                                            password_hash):
    settings = make_settings(tmp_path / "unused.sqlite3", staff_password_hash=password_hash, learning=False)
    with serve_app(settings, store) as running:
        text = shown(signed_in(running.url).get(running.url + "/staff/learning").text)
    assert "Collection is switched off (RG_LEARNING=off)" in text
    assert PRISON[0] in text and "do i need a solicitor" in text and answer_label("faq/cost") in text
    assert "grouped automatically every hour" not in text  # the worker does not run when collection is off


def test_without_a_database_the_page_says_so_honestly(tmp_path, password_hash):
    missing = CallbackStore(f"sqlite:///{tmp_path / 'missing' / 'callbacks.sqlite3'}", create=False)
    settings = make_settings(tmp_path / "unused.sqlite3", staff_password_hash=password_hash)
    with serve_app(settings, missing) as running:
        client = signed_in(running.url)
        page = client.get(running.url + "/staff/learning")
        export = client.get(running.url + "/staff/learning/export.yml")
    assert page.status_code == 503
    assert "database could not be reached" in shown(page.text) and "Sign out" in page.text
    assert export.status_code == 503 and "Content-Disposition" not in export.headers
    assert not (tmp_path / "missing").exists()


def test_without_a_store_the_page_says_so_honestly(tmp_path, password_hash):
    settings = make_settings(tmp_path / "unused.sqlite3", staff_password_hash=password_hash)
    with serve_app(settings) as running:
        page = signed_in(running.url).get(running.url + "/staff/learning")
    assert page.status_code == 503 and "database could not be reached" in shown(page.text)


def test_group_button_says_when_grouping_failed_or_is_still_running(staff, server, records, monkeypatch):
    """The button's answers, with a stand-in for the grouping process (the real one is tested below)."""
    runs = []

    async def failing(database_url: str) -> bool:
        runs.append("failing")
        return False

    async def slow(database_url: str) -> bool:
        runs.append("slow")
        await asyncio.sleep(1.0)
        return True

    token = csrf(staff.get(server.url + "/staff/learning").text)
    monkeypatch.setattr(grouping, "group_in_own_process", failing)
    response = staff.post(server.url + "/staff/learning/group", data={"csrf_token": token}, allow_redirects=False)
    assert response.headers["Location"] == "/staff/learning?grouped=failed"
    assert "could not be grouped just now" in shown(staff.get(server.url + response.headers["Location"]).text)

    monkeypatch.setattr(grouping, "group_in_own_process", slow)
    monkeypatch.setattr(staff_pages, "GROUPING_WAIT_S", 0.1)
    first = staff.post(server.url + "/staff/learning/group", data={"csrf_token": token}, allow_redirects=False)
    second = staff.post(server.url + "/staff/learning/group", data={"csrf_token": token}, allow_redirects=False)
    assert first.headers["Location"] == second.headers["Location"] == "/staff/learning?grouped=running"
    assert "Grouping is still running" in shown(staff.get(server.url + "/staff/learning").text)
    time.sleep(1.5)
    assert "The new questions have been grouped." in shown(staff.get(server.url + first.headers["Location"]).text)
    assert runs == ["failing", "slow"]  # one run at a time, however often the button is pressed


@pytest.mark.model
@pytest.mark.processes
def test_group_new_questions_now_groups_them_in_a_process_of_its_own(tmp_path, password_hash):
    url = f"sqlite:///{tmp_path / 'callbacks.sqlite3'}"
    store = CallbackStore(url)
    records = LearningRecords(store, keep_days=30)
    texts = ["how much does it cost", "what does it cost", "can i bring my mum to the meeting"]
    for text in texts:
        records.keep_question(text, "not_understood")
    settings = make_settings(tmp_path / "callbacks.sqlite3", staff_password_hash=password_hash)
    try:
        with serve_app(settings, store) as running:
            client = signed_in(running.url)
            token = csrf(client.get(running.url + "/staff/learning").text)
            response = client.post(running.url + "/staff/learning/group", data={"csrf_token": token},
                                   allow_redirects=False, timeout=60)
            assert response.status_code == 303
            # The button waits up to GROUPING_WAIT_S; on a busy machine the run goes on and the page says so.
            location = response.headers["Location"]
            assert location in ("/staff/learning?grouped=done", "/staff/learning?grouped=running")
            deadline = time.monotonic() + GROUPING_TIMEOUT_S
            while True:
                text = shown(client.get(running.url + location).text)
                if "Grouping is still running" not in text or time.monotonic() > deadline:
                    break
                time.sleep(1)
            again = client.post(running.url + "/staff/learning/group", data={"csrf_token": token},
                                allow_redirects=False, timeout=60)
    finally:
        store.close()
    assert records.ungrouped_count() == 0
    groups = records.groups()
    assert None not in [g.id for g in groups] and sum(g.count for g in groups) == 3
    assert {"how much does it cost", "what does it cost"} <= set(groups[0].texts)  # two wordings of one question
    assert "The new questions have been grouped." in text and "New, not grouped yet None" in text
    assert again.headers["Location"] == "/staff/learning?grouped=none"


# --- the export, labelled, is training data Rasa accepts --------------------------------------------------------

def _project_copy(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    return root


def _rasa_validate(root):
    # From the project's folder: config.yml names the project's own components (bot.nlu...). With
    # --fail-on-warnings, which the project's own data passes, an intent missing from the domain fails.
    return subprocess.run(
        [sys.executable, "-m", "rasa", "data", "validate", "--fail-on-warnings", "--data", str(root / "data"),
         "--domain", str(root / "domain.yml"), "--config", str(root / "config.yml")],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


NOT_IN_DOMAIN = f"labeled with intent '{TO_LABEL}'. This intent is not listed in your domain"


@pytest.mark.processes
def test_the_export_once_labelled_is_training_data_rasa_data_validate_accepts(staff, server, tmp_path):
    exported = staff.get(server.url + "/staff/learning/export.yml").content.decode("utf-8")
    root = _project_copy(tmp_path)
    target = root / "data" / "nlu" / "from_visitors.yml"

    target.write_text(exported, encoding="utf-8")
    unlabelled = _rasa_validate(root)
    assert unlabelled.returncode != 0  # refused: an unlabelled export is never trained by mistake
    assert NOT_IN_DOMAIN in unlabelled.stdout + unlabelled.stderr

    # Labelled as the team would: each group given the intent it should have had.
    labels = iter(["faq/prison", "faq/cost", "faq/what_is_rj"])
    labelled = re.sub(rf"- intent: {TO_LABEL}$", lambda _: f"- intent: {next(labels)}", exported, flags=re.M)
    assert TO_LABEL not in labelled.replace("`to_label`", "")
    target.write_text(labelled, encoding="utf-8")
    result = _rasa_validate(root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert TO_LABEL not in result.stdout + result.stderr
    assert "not listed in your domain" not in result.stdout + result.stderr


# --- phone numbers as staff dial them ---------------------------------------------------------------------------

@pytest.mark.parametrize("stored, shown_as, href", [
    ("+447700900123", "07700 900123", "tel:+447700900123"),
    ("+441452754542", "01452 754542", "tel:+441452754542"),
    ("+442079460000", "020 7946 0000", "tel:+442079460000"),
    ("+33123456789", "+33 1 23 45 67 89", "tel:+33123456789"),  # never made to look like a UK number
    ("+4412", "+4412", None),  # not a whole number: as stored
    ("call me <b>", "call me <b>", None),  # cannot be read: as stored
    (None, "", None),
])
def test_dial_format(stored, shown_as, href):
    assert dial_format(stored) == shown_as
    assert tel_href(stored) == href


def test_the_request_page_shows_the_number_as_staff_dial_it_with_a_tel_link(staff, server, store):
    reference = store.submit("learning-phone-1", CallbackDetails(
        name="Jo", phone="+441452426900", safe_to_identify=True, best_time="Any time", role="person_harmed"))
    page = staff.get(server.url + f"/staff/requests/{reference}").text
    assert '<dt>Phone</dt><dd><a href="tel:+441452426900">01452 426900</a></dd>' in page
    assert "+441452426900" not in shown(page)
    assert "426900" not in staff.get(server.url + "/staff").text  # the list still shows no numbers
