"""The danger net as a Rasa NLU component; what counts as danger is in bot/nlu/danger.py."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.danger import DANGER_SOURCE, danger_in_words, emergency_from_ranking
from bot.nlu.intent_override import INTENT_RANKING, choose_intent


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class DangerNet(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"min_confidence_first": 0.3, "min_confidence": 0.5}

    def __init__(self, config: Dict[Text, Any]) -> None:
        config = {**self.get_default_config(), **config}
        self.min_confidence_first = float(config["min_confidence_first"])
        self.min_confidence = float(config["min_confidence"])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "DangerNet":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            ranking = message.get(INTENT_RANKING) or []
            in_words = danger_in_words(message.get(TEXT) or "")
            emergency = in_words or emergency_from_ranking(
                ranking, self.min_confidence_first, self.min_confidence)
            if emergency is None:
                continue
            # Where the call came from: the callback form may take a clear answer ("I'm the victim") that only
            # the classifier thought might be an emergency as the answer it is.
            message.set(DANGER_SOURCE, "words" if in_words else "classifier", add_to_output=True)
            # The net has decided, whatever the classifier's own confidence, so the fallback after it stays quiet.
            choose_intent(message, emergency, 1.0)
        return messages

    def process_training_data(self, training_data):
        return training_data
