"""RG_LEARNING: the privacy answer the assistant gives and what the web app keeps must say the same thing.

For each value of the switch, the privacy action picks and fills its answer from domain.yml as Rasa would, and
the real web app (same settings, real SQLite database, Rasa's replies from a stand-in) is given a question it
cannot answer and an unhelpful vote. The answer may promise "nothing kept" only if nothing was kept, and must give
the number of days things are kept for if anything was.
"""
from __future__ import annotations

import uuid
from typing import Any, Dict

import pytest
import requests
import yaml
from rasa.core.nlg.interpolator import interpolate_text
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.callback_form import ActionAnswerPrivacy
from bot.callbacks.store import CallbackStore
from bot.learning.records import LearningRecords
from bot.settings import PROJECT_ROOT, load_settings
from support import RasaStandIn, make_settings, serve_app

DOMAIN: Dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
FAQ = "faq/what_is_rj"


def reply(message: str):
    name = "utter_" + FAQ if message.startswith("what is") else "utter_default"
    return [{"recipient_id": "x", "text": "...", "utter_action": name}]


async def privacy_answer() -> str:
    dispatcher = CollectingDispatcher()
    tracker = Tracker("s", {}, {"text": "what do you keep", "intent": {"name": "ask_privacy"}}, [], False, None,
                      None, "action_listen")
    await ActionAnswerPrivacy().run(dispatcher, tracker, DOMAIN)
    [message] = dispatcher.messages
    text = DOMAIN["responses"][message["response"]][0]["text"]
    return interpolate_text(text, {k: str(v) for k, v in message.items() if k != "response"})


@pytest.mark.parametrize("switch", ["on", "off"])
async def test_the_privacy_answer_says_what_the_chat_keeps(monkeypatch, tmp_path, switch):
    monkeypatch.setenv("RG_LEARNING", switch)
    monkeypatch.setenv("RG_LEARNING_DAYS", "21")
    answer = await privacy_answer()
    settings = load_settings()
    store = CallbackStore(f"sqlite:///{tmp_path / 'callbacks.sqlite3'}")
    records = LearningRecords(store, settings.learning_days)
    with RasaStandIn(reply) as rasa:
        web_settings = make_settings(tmp_path / "unused.sqlite3", rasa.url, learning=settings.learning,
                                     learning_days=settings.learning_days)
        with serve_app(web_settings, store) as app:
            sender = str(uuid.uuid4())
            for message in ("is there parking at the meetings", "what is rj"):
                assert requests.post(app.url + "/chat", json={"sender": sender, "message": message},
                                     timeout=10).status_code == 200
            requests.post(app.url + "/feedback", json={"sender": sender, "answer": FAQ, "helpful": False}, timeout=10)
    kept = len(records.questions()) + len(records.votes())
    store.close()
    if "doesn't keep what you type" in answer:
        assert kept == 0
    else:
        assert kept > 0
        assert "stays 21 days" in answer
        assert "names, numbers, emails, addresses and links removed" in answer
    assert (kept > 0) == (switch == "on")
