"""Votes and kept questions in a real database: counting, the purge, groups and the export for labelling."""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
import yaml

from bot.callbacks.store import CallbackStore
from bot.learning.answers import faq_answers
from bot.learning.grouping import cluster, regroup
from bot.learning.records import TO_LABEL, LearningRecords

FAQ, OTHER = "faq/what_is_rj", "faq/cost"


@pytest.fixture
def records(tmp_path):
    store = CallbackStore(f"sqlite:///{tmp_path / 'callbacks.sqlite3'}")
    yield LearningRecords(store, keep_days=30)
    store.close()


def test_votes_are_counted_per_answer_and_day_and_summed_by_week(records):
    monday = date(2026, 11, 30)
    for day, helpful in [(monday, True), (monday, False), (monday + timedelta(days=2), False),
                         (monday - timedelta(days=7), True)]:
        records.count_vote(FAQ, helpful, day=day)
    records.count_vote(OTHER, True, day=monday)
    now = datetime(2026, 12, 3, 12, tzinfo=timezone.utc)
    first, second = records.votes(weeks=3, now=now)
    assert (first.answer, first.helpful, first.unhelpful) == (FAQ, 2, 2)  # most unhelpful first
    assert first.weeks == [(monday - timedelta(days=14), 0, 0), (monday - timedelta(days=7), 1, 0), (monday, 1, 2)]
    assert (second.answer, second.helpful, second.unhelpful) == (OTHER, 1, 0)
    assert first.title == "What's restorative justice?"


def test_votes_counted_at_once_are_all_counted(records):
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: records.count_vote(FAQ, n % 2 == 0), range(40)))
    [summary] = records.votes()
    assert (summary.helpful, summary.unhelpful) == (20, 20)


def test_a_vote_names_an_answer_or_is_refused(records):
    with pytest.raises(ValueError):
        records.count_vote("utter_greet", True)


def test_questions_are_redacted_before_they_are_stored(records):
    records.keep_question("my number is 07700 900982 and i live at GL1 2AB", "not_understood", "not_understood")
    [question] = records.questions()
    assert "900982" not in question.text.replace(" ", "") and "GL1" not in question.text.upper()
    # Hidden characters go: they would reach staff's terminal and break the YAML export.
    records.keep_question("what does \x1b[2J this\u202e do", "not_understood")
    assert records.questions()[1].text == "what does [2J this do"
    # A message that was nothing but personal data leaves nothing worth keeping.
    assert records.keep_question("07700 900982", "not_understood") is None
    assert len(records.questions()) == 2


def test_the_purge_deletes_questions_older_than_the_period_and_keeps_votes(records):
    today = date(2026, 12, 2)
    records.keep_question("old question", "not_understood", day=today - timedelta(days=31))
    records.keep_question("recent question", "not_understood", day=today - timedelta(days=29))
    records.count_vote(FAQ, False, day=today - timedelta(days=200))
    assert records.purge(now=datetime(2026, 12, 2, 12, tzinfo=timezone.utc)) == 1
    assert [q.text for q in records.questions()] == ["recent question"]
    assert records.votes()[0].unhelpful == 1


def test_groups_come_largest_first_with_the_answers_given_and_new_ones_last(records):
    ids = [records.keep_question(text, reason, answer) for text, reason, answer in [
        ("is there a fee", "not_understood", "not_understood"),
        ("how much is it", "unhelpful", OTHER),
        ("do you work in wales", "did_you_mean", "did_you_mean"),
        ("how much does it cost", "not_understood", "not_understood"),
        ("brand new question", "not_understood", "not_understood"),
    ]]
    records.set_groups({ids[0]: ids[0], ids[1]: ids[0], ids[3]: ids[0], ids[2]: ids[2]})
    groups = records.groups()
    assert [(g.id, g.count) for g in groups] == [(ids[0], 3), (ids[2], 1), (None, 1)]
    assert groups[0].answer_labels() == ["“Sorry, I didn't understand that” (2)",
                                         f"{faq_answers()[OTHER].title} (1)"]
    assert records.ungrouped_count() == 1


def test_clustering_keeps_group_ids_stable_as_groups_grow():
    # Two tight pairs and a loner, as unit vectors: ids of the first member name each group.
    vectors = np.array([[1, 0, 0], [0.99, 0.14, 0], [0, 1, 0], [0, 0, 1], [0.1, 0.99, 0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert cluster([3, 7, 9, 12, 15], vectors) == {3: 3, 7: 3, 9: 9, 12: 12, 15: 9}
    assert cluster([], np.zeros((0, 3))) == {} and cluster([4], vectors[:1]) == {4: 4}


def test_regroup_saves_a_group_for_every_question(records):
    for text in ("aa", "ab", "zz"):
        records.keep_question(text, "not_understood")

    def encode(texts):  # stands for the sentence encoder: texts starting alike mean alike
        return np.array([[1.0, 0.0] if t.startswith("a") else [0.0, 1.0] for t in texts], dtype=np.float32)

    assert regroup(records, encode) == 2
    assert records.ungrouped_count() == 0
    assert sorted(g.count for g in records.groups()) == [1, 2]


def test_the_export_is_rasa_nlu_yaml_with_one_block_per_group(records):
    first = records.keep_question("is there a fee", "not_understood", "not_understood")
    records.keep_question("is there a fee", "not_understood", "not_understood")
    records.keep_question("can [NAME][PHONE] come too", "unhelpful", FAQ)
    records.set_groups({first: first, first + 1: first})
    stream = io.StringIO()
    assert records.export_nlu(stream) == 2
    data = yaml.safe_load(stream.getvalue())
    assert data["version"] == "3.1"
    assert [block["intent"] for block in data["nlu"]] == [TO_LABEL, TO_LABEL]
    # Repeats appear once; adjacent placeholders are kept apart so Rasa does not read them as entity markup.
    assert data["nlu"][0]["examples"] == "- is there a fee\n"
    assert data["nlu"][1]["examples"] == "- can [NAME] [PHONE] come too\n"
    assert "asked 2 time(s)" in stream.getvalue()


def test_votes_and_questions_on_a_real_postgresql(pg_url):
    CallbackStore.create_or_upgrade(pg_url)
    store = CallbackStore.from_settings(type("S", (), {"database_url": pg_url, "retention_days": 90})())
    records = LearningRecords(store, keep_days=30)
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: records.count_vote(FAQ, n % 4 == 0), range(40)))
        [summary] = records.votes()
        assert (summary.helpful, summary.unhelpful) == (10, 30)
        records.keep_question("old one", "not_understood", day=date.today() - timedelta(days=40))
        records.keep_question("call me on 07700 900982", "not_understood")
        assert records.purge() == 1
        assert [q.text for q in records.questions()] == ["call me on [PHONE]"]
    finally:
        store.close()
