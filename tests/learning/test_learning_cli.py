"""`rg-staff unanswered`, `votes`, `export-nlu` and `group` against a real SQLite store, run in this process as
`rg-staff` runs them (the same way as tests/callbacks/test_staff_cli.py)."""
from __future__ import annotations

import os
import stat
from datetime import timedelta
from unittest import mock

import pytest
import yaml
from sqlalchemy.orm import Session

from bot.callbacks.db import UnansweredQuestion
from bot.callbacks.store import CallbackStore
from bot.learning.answers import answer_label
from bot.learning.records import TO_LABEL, LearningRecords, today
from support import run_staff_cli

PRISON = ["can i do this if [NAME] is in prison", "what if he is locked up", "what if he is locked up"]
COST = ["is there a fee", "how much do you charge"]
# A control character kept from before hidden characters were refused, or written in by other means.
TERMINAL_TRICK = "what does \x1b[2J this do"


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'var' / 'callbacks.sqlite3'}"


@pytest.fixture
def store(db_url):
    s = CallbackStore(db_url, retention_days=30)
    yield s
    s.close()


@pytest.fixture
def records(store):
    records = LearningRecords(store, keep_days=30)
    day = today()
    prison = [records.keep_question(text, "not_understood", day=day - timedelta(days=2 * n))
              for n, text in enumerate(PRISON)]
    cost = [records.keep_question(text, "unhelpful", "faq/cost", day=day) for text in COST]
    # keep_question removes hidden characters, so the trick is written straight into the table.
    with Session(store.engine, future=True) as session, session.begin():
        row = UnansweredQuestion(text=TERMINAL_TRICK, reason="did_you_mean", answer="did_you_mean", kept_on=day)
        session.add(row)
        session.flush()
        waiting = row.id
    assert None not in [*prison, *cost, waiting]
    records.set_groups({**{q: prison[0] for q in prison}, **{q: cost[0] for q in cost}})
    for answer, helpful in [("faq/cost", False), ("faq/cost", False), ("faq/cost", True), ("faq/what_is_rj", True)]:
        records.count_vote(answer, helpful, day=day)
    return records




def day(d) -> str:
    return f"{d.day} {d.strftime('%b %Y')}"


def test_unanswered_lists_groups_largest_first_then_the_new_ones(db_url, records):
    result = run_staff_cli(db_url, "unanswered")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("Group 1: asked 3 time(s)") < out.index(PRISON[0]) < out.index("Group 2: asked 2 time(s)")
    assert out.index("Group 2") < out.index(COST[0]) < out.index("New, not grouped yet: 1 question(s)")
    assert f"Group 1: asked 3 time(s), {day(today() - timedelta(days=4))} to {day(today())}" in out
    assert f"Example: {PRISON[0]}\n" in out and f"Also:    {PRISON[1]} (x2)\n" in out
    assert f"Also:    {COST[1]}\n" in out
    assert f"Given:   {answer_label('not_understood')} (3)\n" in out
    assert f"Given:   {answer_label('faq/cost')} (2)\n" in out
    assert f"Given:   {answer_label('did_you_mean')} (1)\n" in out
    assert out.rstrip().endswith("6 question(s) in 2 group(s); 1 not grouped yet.")


def test_visitor_text_cannot_drive_the_terminal(db_url, records):
    for args in (["unanswered"], ["export-nlu", "-"]):
        result = run_staff_cli(db_url, *args)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout
        assert "what does \\x1b[2J this do" in result.stdout


def test_unanswered_when_nothing_is_kept(db_url, store):
    assert run_staff_cli(db_url, "migrate").returncode == 0
    result = run_staff_cli(db_url, "unanswered")
    assert (result.returncode, result.stdout.strip()) == (0, "No unanswered questions are kept.")
    assert run_staff_cli(db_url, "votes").stdout.strip() == "No answer has been rated yet."


def test_votes_per_answer_most_unhelpful_first(db_url, records):
    result = run_staff_cli(db_url, "votes")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ANSWER", "HELPFUL", "UNHELPFUL"]
    assert lines[1].startswith(answer_label("faq/cost")) and lines[1].split()[-2:] == ["1", "2"]
    assert lines[2].startswith(answer_label("faq/what_is_rj")) and lines[2].split()[-2:] == ["1", "0"]
    assert lines[3] == "2 answer(s) rated; most unhelpful votes first."


def test_export_nlu_to_a_private_file_and_to_standard_output(db_url, records, tmp_path):
    target = tmp_path / "to-label.yml"
    result = run_staff_cli(db_url, "export-nlu", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert f"Wrote 3 group(s) to {target}" in result.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert data["version"] == "3.1"
    assert [item["intent"] for item in data["nlu"]] == [TO_LABEL] * 3
    assert [item["examples"].splitlines() for item in data["nlu"]] == [
        [f"- {PRISON[0]}", f"- {PRISON[1]}"], [f"- {text}" for text in COST], ["- what does \\x1b[2J this do"]]

    printed = run_staff_cli(db_url, "export-nlu", "-")
    assert printed.returncode == 0
    assert printed.stdout == target.read_text(encoding="utf-8")


def test_with_collection_switched_off_what_is_kept_is_still_shown(db_url, records):
    result = run_staff_cli(db_url, "unanswered", extra_env={"RG_LEARNING": "off"})
    assert result.returncode == 0
    assert "collection is switched off (RG_LEARNING=off)" in result.stderr
    assert PRISON[0] in result.stdout


def test_a_database_that_is_not_there_exits_3(db_url, tmp_path):
    for args in (["unanswered"], ["votes"], ["export-nlu", "-"], ["group"]):
        result = run_staff_cli(db_url, *args)
        assert result.returncode == 3, args
        assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "var").exists()


def test_database_unavailable_exits_3():
    result = run_staff_cli("postgresql://u:p@127.0.0.1:1/x", "votes")
    assert result.returncode == 3
    assert "could not" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2(db_url):
    assert run_staff_cli(db_url, "export-nlu").returncode == 2
    assert run_staff_cli(db_url, "unanswered", "--nope").returncode == 2


@pytest.mark.model
def test_group_and_unanswered_group_regroup_with_the_sentence_model(db_url, store):
    records = LearningRecords(store, keep_days=30)
    for text in ["how much does it cost", "what does it cost", "can i bring my mum to the meeting"]:
        records.keep_question(text, "not_understood")
    assert records.ungrouped_count() == 3

    result = run_staff_cli(db_url, "group")
    assert result.returncode == 0, result.stderr
    groups = records.groups()
    assert records.ungrouped_count() == 0
    assert result.stdout.strip() == f"{len(groups)} group(s) of unanswered questions."
    assert {"how much does it cost", "what does it cost"} <= set(groups[0].texts)

    records.keep_question("is it free", "not_understood")
    shown = run_staff_cli(db_url, "unanswered", "--group")
    assert shown.returncode == 0, shown.stderr
    assert "group(s) of unanswered questions." in shown.stderr
    assert "New, not grouped yet" not in shown.stdout and "is it free" in shown.stdout


def test_grouping_without_the_sentence_model_says_how_to_install_it(db_url, records):
    with mock.patch("bot.nlu.sentence_model.is_installed", return_value=False):
        for args in (["group"], ["unanswered", "--group"]):
            result = run_staff_cli(db_url, *args)
            assert result.returncode == 2, args
            assert "make setup" in result.stderr and result.stdout == ""
    assert records.ungrouped_count() == 1  # nothing changed


def test_grouping_nothing_loads_no_model(db_url, store):
    assert run_staff_cli(db_url, "migrate").returncode == 0
    with mock.patch("bot.learning.grouping.sentence_encoder", side_effect=AssertionError("model loaded")):
        result = run_staff_cli(db_url, "group")
    assert (result.returncode, result.stdout.strip()) == (0, "0 group(s) of unanswered questions.")
