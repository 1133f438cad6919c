"""An explicit request to be phoned wins over the topic it is about.

"I run a shop and was robbed. Could someone phone me to explain how restorative justice works?" asks for a
call; the classifier, reading the whole message, may find it more like "what is restorative justice" and
only a little less like a callback request. When the words plainly ask to be phoned or to speak to a person
("phone me", "give me a ring", "speak to someone") and the classifier thinks a callback request likely enough
(`min_confidence`), the callback request is what the person gets. Runs after the fallback classifier and
before the danger net (config.yml), so danger still comes first.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.intent_override import INTENT_RANKING, choose_intent

REQUEST_CALLBACK = "request_callback"
_ASKS_FOR_A_CALL = re.compile(
    r"\b(?:(?:phone|ring|call|contact|bell) (?:me|us)(?: back)?|call ?back|"
    r"give (?:me|us) a (?:ring|call|bell|buzz)|"
    r"(?:speak|talk|chat) (?:to|with) (?:someone|somebody|some1|a person|a real person|a human|a facilitator|"
    r"one of (?:you|the team|your team))|(?:speak|talk|chat) (?:to \w+ )?on the phone|phone call)\b"
)


def asks_for_a_call(text: str) -> bool:
    return bool(_ASKS_FOR_A_CALL.search((text or "").lower().replace("\u2019", "'")))


def callback_confidence(ranking: List[Dict[str, Any]]) -> Optional[float]:
    return next((item.get("confidence") or 0.0 for item in ranking if item.get("name") == REQUEST_CALLBACK), None)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class CallbackCue(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"min_confidence": 0.2}

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.min_confidence = float({**self.get_default_config(), **config}["min_confidence"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "CallbackCue":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if (message.get(INTENT) or {}).get("name") == REQUEST_CALLBACK:
                continue
            confidence = callback_confidence(message.get(INTENT_RANKING) or [])
            if confidence is None or confidence < self.min_confidence or not asks_for_a_call(message.get(TEXT)):
                continue
            choose_intent(message, REQUEST_CALLBACK, confidence)
        return messages

    def process_training_data(self, training_data):
        return training_data
