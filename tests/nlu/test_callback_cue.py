"""An explicit request to be phoned wins over the topic it mentions (bot/nlu/callback_cue.py)."""
from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.callback_cue import CallbackCue, asks_for_a_call


@pytest.mark.parametrize(
    "text",
    ["could somebody phone me to go through how it works", "give me a ring about my son's case please",
     "I'd like to speak to someone about the burglary", "can u call us back", "I'd rather talk on the phone"],
)
def test_a_request_to_be_phoned_is_recognised(text):
    assert asks_for_a_call(text)


@pytest.mark.parametrize(
    "text", ["what is restorative justice", "what's your phone number", "how soon do you get back to people"]
)
def test_other_messages_are_not_requests_for_a_call(text):
    assert not asks_for_a_call(text)


def message(text, ranking):
    return Message(data={"text": text, "intent": dict(ranking[0]), "intent_ranking": ranking})


def test_the_callback_request_wins_when_the_words_ask_for_a_call_and_the_classifier_finds_it_likely():
    m = message("I was robbed at work, could someone phone me to explain how restorative justice works",
                [{"name": "faq", "confidence": 0.47}, {"name": "request_callback", "confidence": 0.42}])
    CallbackCue({}).process([m])
    assert m.get("intent") == {"name": "request_callback", "confidence": 0.42}
    assert m.get("intent_ranking")[0]["name"] == "request_callback"


def test_the_words_alone_are_not_enough():
    m = message("will the facilitator call me before the meeting",
                [{"name": "faq", "confidence": 0.9}, {"name": "request_callback", "confidence": 0.05}])
    CallbackCue({}).process([m])
    assert m.get("intent")["name"] == "faq"
