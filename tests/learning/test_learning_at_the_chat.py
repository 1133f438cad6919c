"""What the web app keeps as it relays a conversation, and the "was this helpful?" votes: the real web app on a
loopback port, a real SQLite database, and a stand-in for Rasa's REST channel that names its responses as
bot/nlu/rest_channel.py does."""
from __future__ import annotations

import uuid

import pytest
import requests

from bot.callbacks.store import CallbackStore
from bot.learning.records import LearningRecords
from support import RasaStandIn, make_settings, serve_app

FAQ = "faq/what_is_rj"
PHONE_TYPED = "07700 900461"


def reply(message: str):
    """Rasa's replies, by what the message asks for: each message names the response it came from."""
    def said(text, name, **extra):
        return {"recipient_id": "x", "text": text, "utter_action": name, **extra}

    if message.startswith("faq"):
        return [said("It lets people talk.", "utter_" + FAQ)]
    if message.startswith("long"):  # an answer Rasa splits at a blank line
        return [said("First part.", "utter_" + FAQ), said("Second part.", "utter_" + FAQ)]
    if message.startswith("unknown-answer"):
        return [said("An answer.", "utter_faq/no_such_answer")]
    if message.startswith("dym"):
        buttons = [{"title": "What's restorative justice?", "payload": "What's restorative justice?"}]
        return [said("Did you mean one of these?", "utter_did_you_mean", buttons=buttons)]
    if message.startswith("callback") or message == "/request_callback":
        return [said("What name should the team ask for?", "utter_ask_callback_name")]
    if message.startswith("danger"):
        return [said("Call 999 now.", "utter_emergency_danger"), said("Sorry, I didn't understand.", "utter_default")]
    return [said("Sorry, I didn't understand that.", "utter_default")]


@pytest.fixture(scope="module")
def rasa():
    with RasaStandIn(reply) as stand_in:
        yield stand_in


def serve(tmp_path, rasa, **overrides):
    store = CallbackStore(f"sqlite:///{tmp_path / 'callbacks.sqlite3'}")
    settings = make_settings(tmp_path / "unused.sqlite3", rasa.url, chat_limit_per_address=100_000, **overrides)
    return store, LearningRecords(store, settings.learning_days), serve_app(settings, store)


@pytest.fixture
def web(tmp_path, rasa):
    store, records, running = serve(tmp_path, rasa)
    with running as app:
        yield app, records
    store.close()


def chat(url: str, sender: str, message: str) -> list:
    response = requests.post(url + "/chat", json={"sender": sender, "message": message}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def vote(url: str, sender: str, answer: str, helpful, **extra) -> requests.Response:
    return requests.post(url + "/feedback", json={"sender": sender, "answer": answer, "helpful": helpful},
                         timeout=10, **extra)


def kept(records: LearningRecords) -> list:
    return [(q.text, q.reason, q.answer) for q in records.questions()]


def test_an_faq_answer_can_be_rated_and_nothing_else_of_rasas_reply_reaches_the_browser(web):
    app, _ = web
    sender = str(uuid.uuid4())
    assert chat(app.url, sender, "faq please") == [{"text": "It lets people talk.", "answer": FAQ}]
    # A long answer arrives in parts: one vote, under the last part.
    assert chat(app.url, sender, "long one") == [{"text": "First part."}, {"text": "Second part.", "answer": FAQ}]
    # Only answers the assistant really has can be rated.
    assert chat(app.url, sender, "unknown-answer") == [{"text": "An answer."}]
    assert chat(app.url, sender, "what now") == [{"text": "Sorry, I didn't understand that."}]


def test_a_message_not_understood_is_kept_redacted_with_the_reply_it_got(web):
    app, records = web
    sender = str(uuid.uuid4())
    chat(app.url, sender, f"can u ring me on {PHONE_TYPED} about the thing with my neighbour")
    chat(app.url, sender, "dym is there a waiting list")
    questions = kept(records)
    assert [(reason, answer) for _, reason, answer in questions] == [
        ("not_understood", "not_understood"), ("did_you_mean", "did_you_mean")]
    first = questions[0][0]
    assert "[PHONE]" in first and "900461" not in first.replace(" ", "") and "neighbour" in first
    assert questions[1][0] == "dym is there a waiting list"


def test_an_unhelpful_vote_keeps_the_question_it_answered_and_a_helpful_one_keeps_nothing(web):
    app, records = web
    sender = str(uuid.uuid4())
    chat(app.url, sender, "faq can i meet him if he is in prison")
    assert vote(app.url, sender, FAQ, True).status_code == 204
    assert kept(records) == []
    chat(app.url, sender, "faq my email is jo.bloggs@example.com does rj work")
    assert vote(app.url, sender, FAQ, False).status_code == 204
    assert kept(records) == [("faq my email is [EMAIL] does rj work", "unhelpful", FAQ)]
    # A second vote on the same answer counts, but the question is not kept twice.
    assert vote(app.url, sender, FAQ, False).status_code == 204
    assert len(kept(records)) == 1
    [summary] = records.votes()
    assert (summary.answer, summary.helpful, summary.unhelpful) == (FAQ, 1, 2)
    assert summary.weeks[-1][1:] == (1, 2)


def test_nothing_is_kept_once_a_conversation_reaches_the_callback_form(web):
    app, records = web
    sender = str(uuid.uuid4())
    chat(app.url, sender, "/request_callback")
    chat(app.url, sender, "Dave Smith")  # an answer to "what name", which the stand-in did not understand
    chat(app.url, sender, "faq is it free")
    assert vote(app.url, sender, FAQ, False).status_code == 204  # counted...
    assert kept(records) == []  # ...but nothing this visitor typed is kept
    assert records.votes()[0].unhelpful == 1
    # Another visitor's conversation is not affected.
    other = str(uuid.uuid4())
    chat(app.url, other, "what about my bike")
    assert kept(records) == [("what about my bike", "not_understood", "not_understood")]


def test_emergencies_and_button_commands_are_never_kept(web):
    app, records = web
    sender = str(uuid.uuid4())
    chat(app.url, sender, "danger he is outside with a knife")
    chat(app.url, sender, "/greet")
    assert kept(records) == []


@pytest.mark.parametrize("body", [
    {"sender": "not-a-uuid", "answer": FAQ, "helpful": True},
    {"sender": str(uuid.uuid4()), "answer": "faq/no_such_answer", "helpful": True},
    {"sender": str(uuid.uuid4()), "answer": "utter_greet", "helpful": True},
    {"sender": str(uuid.uuid4()), "answer": FAQ, "helpful": "yes"},
    {"sender": str(uuid.uuid4()), "answer": FAQ},
    ["not", "an", "object"],
    "not json",
], ids=["bad-sender", "unknown-answer", "not-an-answer", "helpful-not-bool", "helpful-missing", "list", "text"])
def test_a_malformed_vote_is_refused_kindly_and_counts_nothing(web, body):
    app, records = web
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    response = requests.post(app.url + "/feedback", timeout=10, **kwargs)
    assert response.status_code == 400
    assert response.json() == {"error": "bad_request", "message": "Sorry, that didn't send."}
    assert records.votes() == []


def test_a_vote_from_another_site_is_refused(web):
    app, records = web
    response = vote(app.url, str(uuid.uuid4()), FAQ, True, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert records.votes() == []


def test_with_learning_off_nothing_is_kept_and_no_answer_is_offered_for_rating(tmp_path, rasa):
    store, records, running = serve(tmp_path, rasa, learning=False)
    with running as app:
        sender = str(uuid.uuid4())
        assert chat(app.url, sender, "faq please") == [{"text": "It lets people talk."}]
        chat(app.url, sender, "my number is 07700 900461 can u help")
        response = vote(app.url, sender, FAQ, False)
        assert response.status_code == 404 and "not being rated" in response.json()["message"]
        assert kept(records) == [] and records.votes() == []
    store.close()


def test_a_database_that_is_gone_costs_the_visitor_nothing_but_the_vote(tmp_path, rasa):
    store, records, running = serve(tmp_path, rasa)
    with running as app:
        sender = str(uuid.uuid4())
        (tmp_path / "callbacks.sqlite3").rename(tmp_path / "moved.sqlite3")
        assert chat(app.url, sender, "faq please") == [{"text": "It lets people talk.", "answer": FAQ}]
        assert chat(app.url, sender, "hmm what") == [{"text": "Sorry, I didn't understand that."}]
        response = vote(app.url, sender, FAQ, False)
        assert response.status_code == 503 and response.json()["message"] == "Sorry, that didn't send."
    store.close()
