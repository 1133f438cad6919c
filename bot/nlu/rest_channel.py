"""Rasa's REST channel, registered in credentials.yml as `bot.nlu.rest_channel.QuietRestInput`.

Same URL (/webhooks/rest/webhook) and same replies as Rasa's `rest` channel, with two differences:

- When handling a message times out, is cancelled or fails, Rasa's channel logs the whole message at
  ERROR; a phone number typed at the phone question would end up in the log. Here only the fact and the
  exception's type are logged, never the text or the sender. A request whose body is not an object with a
  text `message` and a text `sender` is refused with 400 before anything reads it, where Rasa's would fail
  inside its handler (and log the message) or file it under the shared "default" conversation.
- Every message of a reply says which response it came from (`utter_action`, as Rasa names it), so the
  website app can offer "was this helpful?" under FAQ answers and notice a question the assistant could
  not answer. The website app passes none of it on to the browser but an FAQ answer's id.
- Where conversations live in this process's memory, every reply carries `X-RG-Rasa-Boot`, a random id made
  once per process, so the website app can tell that Rasa restarted (and so forgot every conversation)
  between two messages of a visitor. With a shared store (Redis) nothing is forgotten, and no id is sent.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.tracker_store import InMemoryTrackerStore
from sanic import Blueprint
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import BaseHTTPResponse

log = logging.getLogger(__name__)

BOOT_HEADER = "X-RG-Rasa-Boot"
BOOT_ID = secrets.token_hex(8)


def _body(request: Request) -> Dict[Text, Any]:
    body = request.json  # Sanic answers 400 itself when the body is not JSON
    if not isinstance(body, dict):
        raise InvalidUsage("The body must be a JSON object.")
    return body


class QuietRestInput(RestInput):
    """`rest`, as Rasa's, but what people type never reaches the log."""

    @classmethod
    def name(cls) -> Text:
        return "rest"  # the same URL, and the same input channel recorded in conversations

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = _body(req).get("sender")
        if not isinstance(sender, str) or not sender.strip():
            raise InvalidUsage("`sender` must be a non-empty string.")
        return sender

    def _extract_message(self, req: Request) -> Optional[Text]:
        message = _body(req).get("message")
        if not isinstance(message, str):
            raise InvalidUsage("`message` must be a string.")
        return message

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = super().blueprint(_quietly(on_new_message))

        @webhook.on_response
        async def boot_id(request: Request, response: BaseHTTPResponse) -> None:
            if conversations_die_with_this_process(request.app):
                response.headers[BOOT_HEADER] = BOOT_ID

        return webhook


def conversations_die_with_this_process(app) -> bool:
    """True when conversations live in this Rasa process's memory (one machine), so that a restart loses them.

    With a shared store (Redis, in the scaled set-up) a restart or another replica loses nothing, and the boot id
    would only tell the website app, wrongly, that the conversation was lost.
    """
    store = getattr(getattr(app.ctx, "agent", None), "tracker_store", None)
    # Rasa wraps the configured store (FailSafeTrackerStore, AwaitableTrackerStore) and keeps it as _tracker_store.
    for _ in range(5):
        inner = getattr(store, "_tracker_store", None)
        if inner is None:
            break
        store = inner
    return isinstance(store, InMemoryTrackerStore)


class NamingCollector(CollectingOutputChannel):
    """Collects into the REST channel's own list, adding the name of the response each message came from."""

    def __init__(self, collector: CollectingOutputChannel) -> None:
        super().__init__()
        self.messages = collector.messages  # the list the REST channel answers with

    @staticmethod
    def _named(message: Dict[Text, Any], kwargs: Dict[Text, Any]) -> Dict[Text, Any]:
        name = kwargs.get("utter_action")
        if isinstance(name, str) and name:
            message["utter_action"] = name
        return message

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for part in text.strip().split("\n\n"):
            await self._persist_message(self._named(self._message(recipient_id, text=part), kwargs))

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: Any, **kwargs: Any) -> None:
        await self._persist_message(self._named(self._message(recipient_id, text=text, buttons=buttons), kwargs))


def _quietly(on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Callable[[UserMessage], Awaitable[None]]:
    """Handles the message as Rasa's channel does, catching what it would catch itself but logging only the
    kind of failure. The reply is then whatever was collected before it, as with Rasa's channel."""

    async def handle(message: UserMessage) -> None:
        if isinstance(message.output_channel, CollectingOutputChannel):
            message.output_channel = NamingCollector(message.output_channel)
        try:
            await on_new_message(message)
        except asyncio.CancelledError:
            log.error("Handling a message was cancelled (the client went away or the reply timed out)")
        except Exception as error:  # noqa: BLE001  (Rasa's channel catches everything here too)
            log.error("Handling a message failed (%s)", type(error).__name__)

    return handle
