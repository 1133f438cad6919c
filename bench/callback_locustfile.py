"""Visitors who each ask a question and then a callback, for `make load` (bench/callback_load.py).

Every visitor has one conversation with a new sender id through the website's POST /chat: a greeting, a question,
then a complete callback request in the form's own order. Told to wait (429), a visitor sends the same message
again after the pause asked for, up to five times in a conversation, as a person pressing "Try again" would.
The outcome of each conversation is appended as one JSON line to $BENCH_OUTCOMES:

  confirmed  the last reply carries a reference (RG-XXXXXX), which must then be in the store exactly once;
  honest     a reply said plainly that the request was not saved or that the visitor should try again;
  lost       neither: the visitor who asked for help was not told what happened (the failure this run looks for).

The phone number each visitor types is recorded too, so that the runner can search every log for it.
"""
from __future__ import annotations

import json
import os
import random
import re
import uuid

from locust import HttpUser, constant, task

OUTCOMES = os.environ["BENCH_OUTCOMES"]
THINK_S = float(os.environ.get("BENCH_THINK_S", "1.0"))
REFERENCE = re.compile(r"\bRG-[A-Z0-9]{6}\b")
# What the assistant says when it could not do what was asked: the store, Rasa or the action server failed,
# the visitor was sending too fast, or a restart lost the conversation.
HONEST = re.compile(
    r"not (?:been )?saved|wasn't saved|isn't saved|nothing (?:you typed |was |has been )?(?:saved|kept|sent)|"
    r"not sent|try again|can't connect|lost track",
    re.IGNORECASE,
)
QUESTIONS = ["is it free", "do i have to meet him", "is it confidential", "can i write a letter instead",
             "who runs the meetings", "how do i get referred"]
NAMES = ["Jess", "Sam", "Priya", "Tom", "Ann", "Mo"]
MAX_RETRIES = 5  # per conversation


def conversation(phone: str) -> list:
    return ["hello", random.choice(QUESTIONS), "can someone call me back", "yes", random.choice(NAMES), phone,
            "/affirm", "evenings", "Skip", "Skip", "/affirm"]


class CallbackVisitor(HttpUser):
    wait_time = constant(THINK_S)

    def on_start(self) -> None:
        self.client.headers["Origin"] = self.host  # the website app accepts chat from its own pages

    @task
    def ask_for_a_callback(self) -> None:
        import gevent

        sender = str(uuid.uuid4())
        phone = f"07400 9{random.randint(0, 99999):05d}"
        outcome, reference, server_errors = "lost", None, 0
        steps = list(enumerate(conversation(phone), start=1))
        retries = 0
        while steps:
            step, text = steps[0]
            if step > 1:
                gevent.sleep(THINK_S)
            with self.client.post("/chat", json={"sender": sender, "message": text}, name=f"{step:02d}",
                                  catch_response=True, timeout=90) as response:
                if response.status_code >= 500:
                    server_errors += 1
                    response.failure(f"HTTP {response.status_code}")
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                if not isinstance(body, dict):
                    body = {}
                # A refusal (429, 503) carries its own message for the visitor instead of the bot's messages.
                said = " ".join([str(m.get("text") or "") for m in (body.get("messages") or [])]
                                + [str(body.get("message") or "")])
                if response.status_code < 500:
                    response.success()
            # Told to wait and send it again: a person presses "Try again" after the pause asked for, a few times.
            if response.status_code == 429 and retries < MAX_RETRIES:
                retries += 1
                gevent.sleep(float(response.headers.get("Retry-After") or 5))
                continue
            steps.pop(0)
            found = REFERENCE.search(said)
            if found:
                outcome, reference = "confirmed", found.group(0)
                break
            if HONEST.search(said) or response.status_code == 429:
                outcome = "honest"
                break
        with open(OUTCOMES, "a") as handle:
            handle.write(json.dumps({"outcome": outcome, "reference": reference, "phone": phone,
                                     "server_errors": server_errors}) + "\n")
