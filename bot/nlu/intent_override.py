"""Setting a message's intent after the classifier, for the components that overrule it (callback cue, danger net).

Rasa's policies read `intent`, and the "did you mean" buttons and the fallback read `intent_ranking`, so both
must agree: the chosen intent first, the classifier's other guesses after it.
"""
from __future__ import annotations

from rasa.shared.nlu.constants import INTENT
from rasa.shared.nlu.training_data.message import Message

INTENT_RANKING = "intent_ranking"


def choose_intent(message: Message, name: str, confidence: float) -> None:
    rest = [item for item in message.get(INTENT_RANKING) or [] if item.get("name") != name]
    message.set(INTENT, {"name": name, "confidence": confidence}, add_to_output=True)
    message.set(INTENT_RANKING, [{"name": name, "confidence": confidence}, *rest], add_to_output=True)
