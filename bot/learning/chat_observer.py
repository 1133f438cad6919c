"""What the website app learns from a conversation as it relays it, and what it passes on to the browser.

Rasa's replies name the response each message came from (bot/nlu/rest_channel.py). From those names:
- an FAQ answer gets an `answer` id, so the widget can ask "was this helpful?";
- a message the assistant did not understand ("Sorry, I didn't understand", "did you mean") is kept for the
  team, redacted, and so is the question behind an answer voted unhelpful;
- a conversation that has reached the callback form keeps nothing from then on: what is typed there is a
  name, a number, or what happened to someone.
Nothing else of Rasa's reply reaches the browser. With learning off (RG_LEARNING=off) nothing is kept and no
answer is offered for rating.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import List, Optional

from bot.callbacks.store import StoreUnavailable
from bot.learning.answers import ANSWER_ID, DID_YOU_MEAN, NOT_UNDERSTOOD, faq_answers
from bot.learning.records import LearningRecords
from bot.learning.redaction import redact
from bot.web.chat_proxy import CONVERSATION_IDLE_S
from bot.web.shared_state import LocalNotes

log = logging.getLogger(__name__)

_FORM_RESPONSE = re.compile(r"^utter_(ask_callback_|callback_)")
_NOT_ANSWERED = {"utter_default": NOT_UNDERSTOOD, "utter_did_you_mean": DID_YOU_MEAN}
# Rated answers remembered per visitor, for the question behind an unhelpful vote; older ones are forgotten.
MAX_RATEABLE_PER_VISITOR = 20


class ChatObserver:
    """`in_callback` and `rateable` hold what is noted about a visitor for the hour a conversation lasts: in this
    process by default, in Redis when replicas share the work (bot/web/shared_state.py)."""

    def __init__(self, records: Optional[LearningRecords], enabled: bool, *, in_callback=None, rateable=None) -> None:
        self.records = records
        self.active = enabled and records is not None
        # Visitor -> True once their conversation reached the callback form.
        self._in_callback = in_callback or LocalNotes(CONVERSATION_IDLE_S)
        # Visitor -> {answer id: the question it answered, already redacted}. Only redacted text is held.
        self._rateable = rateable or LocalNotes(CONVERSATION_IDLE_S)

    async def relay(self, sender: str, text: str, messages: List[dict]) -> List[dict]:
        """The messages as the browser gets them; keeps what is to be kept on the way."""
        responses = [message.pop("utter_action", None) for message in messages]
        if not self.active:
            return messages
        if any(isinstance(name, str) and _FORM_RESPONSE.match(name) for name in responses):
            self._in_callback.put(sender, True)
            self._rateable.put(sender, {})
        in_callback = bool(self._in_callback.get(sender))
        typed = not text.startswith("/")  # button intents ("/request_callback") carry nothing to learn from
        if any(isinstance(name, str) and name.startswith("utter_emergency") for name in responses):
            return messages  # never kept, never rated: somebody may be in danger
        for index, name in enumerate(responses):
            answer = name[len("utter_"):] if isinstance(name, str) else ""
            # A long answer arrives in parts: the vote goes under the last one.
            if ANSWER_ID.match(answer) and answer in faq_answers() and (
                index + 1 == len(responses) or responses[index + 1] != name
            ):
                messages[index]["answer"] = answer
                if typed and not in_callback:
                    rateable = dict(self._rateable.get(sender) or {})
                    rateable[answer] = redact(text)
                    self._rateable.put(sender, dict(list(rateable.items())[-MAX_RATEABLE_PER_VISITOR:]))
        reason = next((_NOT_ANSWERED[name] for name in responses if name in _NOT_ANSWERED), None)
        if reason and typed and not in_callback:
            await self._keep(text, reason, reason)
        return messages

    async def vote(self, sender: str, answer: str, helpful: bool) -> None:
        """Counts a vote; for an unhelpful one, keeps the question it answered if this app relayed it.

        Raises StoreUnavailable when the vote could not be counted.
        """
        assert self.records is not None and self.active
        await asyncio.to_thread(self.records.count_vote, answer, helpful)
        remembered = self._rateable.get(sender) or {}
        question = remembered.get(answer)
        if question is not None:
            self._rateable.put(sender, {k: v for k, v in remembered.items() if k != answer})
        if not helpful and question:
            await self._keep(question, "unhelpful", answer)

    async def _keep(self, text: str, reason: str, answer: str) -> None:
        assert self.records is not None
        try:
            await asyncio.to_thread(self.records.keep_question, text, reason, answer)
        except StoreUnavailable:
            pass  # already logged by kind; the visitor's conversation goes on regardless
        except Exception as exc:  # noqa: BLE001  (learning must never cost a visitor their reply)
            log.error("Keeping an unanswered question failed (%s)", type(exc).__name__)
