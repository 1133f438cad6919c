"""Simulated website visitors for `locust --headless` (started by bench/load.py; runs in bench/.venv).

Each simulated visitor has whole conversations, one after another, each with a new sender id, as a new
visitor to the widget would. The environment chooses the system:

  BENCH_KIND=ours   the assistant: a greeting, three questions, then a complete callback request
                    (13 messages); the last reply must carry the callback reference.
  BENCH_KIND=stock  the `rasa init` demo assistant: 13 messages that its intents understand.
  BENCH_PATH        the path to POST to: /chat (the website app, the widget's channel) or
                    /webhooks/rest/webhook (Rasa's REST channel). Replies are {"messages": [...]} or [...].
  BENCH_THINK_S     pause between two messages of one visitor (default 0.5 s, the same for both systems).

A message fails when the HTTP status is not 200, the body is not the expected JSON, the reply is empty, or
(ours) the callback is not confirmed with a reference.
"""
from __future__ import annotations

import os
import random
import re
import uuid

from locust import HttpUser, between, task

KIND = os.environ.get("BENCH_KIND", "ours")
PATH = os.environ.get("BENCH_PATH", "/webhooks/rest/webhook")
THINK_S = float(os.environ.get("BENCH_THINK_S", "0.5"))
REFERENCE = re.compile(r"\bRG-[A-Z0-9]{6}\b")

GREETINGS = ["hello", "hi there", "hiya", "good morning", "hey"]
QUESTIONS = [
    "What is restorative justice?", "is it free", "do i have to meet him", "is it confidential",
    "can i write a letter instead", "will it affect his sentence", "who runs the meetings",
    "do i have to forgive them", "how do i get referred", "is it safe", "does it work",
    "what happens at a meeting", "can i volunteer", "who funds you", "what about domestic abuse",
]
NAMES = ["Jess", "Sam", "Priya", "Tom Hughes", "Ann", "Mo"]
STOCK = ["hello", "I'm feeling sad", "yes", "are you a bot?", "great", "hi", "not good", "no",
         "hey there", "I am amazing", "are you a human?", "bye", "good morning"]


def conversation() -> list:
    if KIND == "stock":
        return list(STOCK)
    phone = f"07400 9{random.randint(0, 99999):05d}"
    return [random.choice(GREETINGS), *random.sample(QUESTIONS, 3), "can someone call me back", "yes",
            random.choice(NAMES), phone, "/affirm", "evenings", "Skip", "Skip", "/affirm"]


def replies(body) -> list:
    if isinstance(body, dict):
        body = body.get("messages")
    if not isinstance(body, list):
        raise ValueError("the reply is not a list of messages")
    return body


class Visitor(HttpUser):
    wait_time = between(THINK_S, THINK_S)  # between whole conversations, as between messages

    def on_start(self) -> None:
        # The website app accepts chat requests from its own pages only.
        self.client.headers["Origin"] = self.host

    @task
    def talk(self) -> None:
        sender = str(uuid.uuid4())
        messages = conversation()
        for step, text in enumerate(messages, start=1):
            if step > 1 and THINK_S:
                self._sleep(THINK_S)
            last = step == len(messages)
            with self.client.post(PATH, json={"sender": sender, "message": text}, name=f"{step:02d}",
                                  catch_response=True, timeout=60) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")
                    return
                try:
                    texts = " ".join(str(m.get("text") or "") for m in replies(response.json()))
                except ValueError as error:
                    response.failure(str(error))
                    return
                if not texts.strip():
                    response.failure("empty reply")
                elif KIND == "ours" and last and not REFERENCE.search(texts):
                    response.failure("callback not confirmed with a reference")
                else:
                    response.success()

    def _sleep(self, seconds: float) -> None:
        import gevent

        gevent.sleep(seconds)
