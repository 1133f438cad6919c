"""What the assistant does with a message it is not sure about: "did you mean" buttons from the answers it
thought most likely, or a plain "I didn't understand" when none comes close.

Emergencies never reach this action unanswered: the danger net in the NLU pipeline (bot/nlu/danger.py) has
already turned any message that may be one into an emergency intent, which the rules answer first.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

SUGGESTION_MIN_CONFIDENCE = 0.1
MAX_SUGGESTIONS = 3


def topic_title(domain: DomainDict, response_key: str) -> Optional[str]:
    """The button title of an FAQ answer, kept in its metadata (data/responses/)."""
    variations = (domain.get("responses") or {}).get(f"utter_{response_key}") or []
    for variation in variations:
        title = (variation.get("metadata") or {}).get("title")
        if title:
            return title
    return None


def suggested_titles(latest_message: Dict[str, Any], domain: DomainDict) -> List[str]:
    selector = (latest_message.get("response_selector") or {}).get("faq") or {}
    titles: List[str] = []
    for candidate in selector.get("ranking") or []:
        if (candidate.get("confidence") or 0) < SUGGESTION_MIN_CONFIDENCE:
            continue
        title = topic_title(domain, candidate.get("intent_response_key") or "")
        if title and title not in titles:
            titles.append(title)
        if len(titles) == MAX_SUGGESTIONS:
            break
    return titles


class ActionClarifyTopic(Action):
    def name(self) -> Text:
        return "action_clarify_topic"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.active_loop_name:
            # The form asks its question again straight after this.
            dispatcher.utter_message(response="utter_callback_not_understood")
            return []
        titles = suggested_titles(tracker.latest_message, domain)
        if not titles:
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": title, "payload": title} for title in titles]
        buttons.append({"title": "Ask for a callback", "payload": "/request_callback"})
        dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
        return []
