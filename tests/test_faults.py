"""Faults injected into running processes, and what the launcher's supervision makes of them.

The first tests supervise small stand-in servers (real processes, real signals) to check the rules quickly: a
process that exits or stops answering is started again after a pause, and one that keeps stopping gives up.
The stack tests inject the same faults into the real assistant mid-form, with one supervised stack for the module:
the action server killed or hung (the visitor gets an honest reply and can carry on), Rasa killed (started again;
the conversations it held in memory are gone, and its replies say so with a new X-RG-Rasa-Boot).
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from bot import launcher
from bot.launcher import Ports, Stack, Supervisor
from bot.nlu.rest_channel import BOOT_HEADER
from bot.web.chat_proxy import UPSTREAM_TIMEOUT_S
from support import stored_references

# Answers 200 to every GET on the port it is given, and says when it starts (to its log).
STAND_IN = """
import http.server, sys
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
print("stand-in started", flush=True)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""


def wait_for(condition, timeout_s: float, what: str, step=lambda: None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        step()
        if condition():
            return
        assert time.monotonic() < deadline, f"waited {timeout_s:.0f} s for {what}"
        time.sleep(0.1)


@pytest.fixture
def stand_in(tmp_path) -> Iterator[Stack]:
    stack = Stack(model=Path("unused"), ports=Ports.free(), log_dir=tmp_path)
    stack._spawn("actions", [sys.executable, "-c", STAND_IN, str(stack.ports.actions)])
    try:
        wait_for(lambda: stack._watches["actions"].answered, 30, "the stand-in to answer", stack.supervise_once)
        yield stack
    finally:
        stack.stop()


@pytest.mark.processes
def test_a_process_that_exits_is_started_again_after_a_pause(stand_in, caplog):
    first = stand_in.processes["actions"]
    os.killpg(first.pid, signal.SIGKILL)
    wait_for(lambda: stand_in.processes["actions"] is not first and stand_in._watches["actions"].answered, 30,
             "the restart", stand_in.supervise_once)
    assert len(stand_in.restarts["actions"]) == 1
    assert "The actions process exited; starting it again in 0.5 s" in caplog.text
    assert "Started the actions process again" in caplog.text
    assert (stand_in.log_dir / "actions.log").read_text().count("stand-in started") == 2  # the log is kept


@pytest.mark.processes
def test_a_process_that_stops_answering_is_replaced(stand_in, caplog):
    hung = stand_in.processes["actions"]
    os.killpg(hung.pid, signal.SIGSTOP)
    wait_for(lambda: stand_in.processes["actions"] is not hung and stand_in._watches["actions"].answered, 60,
             "the replacement", stand_in.supervise_once)
    assert hung.returncode == -signal.SIGKILL
    assert "The actions process stopped answering" in caplog.text


@pytest.mark.processes
def test_a_process_that_hangs_before_it_ever_answers_is_replaced_after_its_start_time(tmp_path, caplog,
                                                                                     monkeypatch):
    # Hung at once (before the supervisor's first check could see it answer): not left for Rasa's loading time.
    monkeypatch.setitem(launcher.HEALTH_CHECKS, "actions", launcher.HealthCheck("/health", 1.0, 3, start_timeout_s=3))
    stack = Stack(model=Path("unused"), ports=Ports.free(), log_dir=tmp_path)
    stack._spawn("actions", [sys.executable, "-c", STAND_IN, str(stack.ports.actions)])
    hung = stack.processes["actions"]
    os.killpg(hung.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: stack.processes["actions"] is not hung and stack._watches["actions"].answered, 60,
                 "the replacement", stack.supervise_once)
        assert "The actions process did not start" in caplog.text
    finally:
        stack.stop()


@pytest.mark.processes
def test_a_process_that_keeps_stopping_stops_the_assistant(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher, "RESTART_BACKOFF_S", (0.0, 0.0, 0.0))
    monkeypatch.setattr(launcher, "RESTARTS_PER_MINUTE", 3)
    stack = Stack(model=Path("unused"), ports=Ports.free(), log_dir=tmp_path)
    stack._spawn("actions", [sys.executable, "-c", "raise SystemExit(3)"])
    try:
        with pytest.raises(launcher.GaveUp, match="The actions process keeps stopping"):
            wait_for(lambda: False, 60, "giving up", stack.supervise_once)
        assert len(stack.restarts["actions"]) == 3
    finally:
        stack.stop()


@pytest.mark.processes
def test_stopping_ends_a_hung_process_too(stand_in):
    hung = stand_in.processes["actions"]
    os.killpg(hung.pid, signal.SIGSTOP)
    started = time.monotonic()
    stand_in.stop()
    assert hung.returncode == -signal.SIGTERM and time.monotonic() - started < 10
    stand_in.supervise_once()  # once stopped, nothing is started again
    assert stand_in.processes["actions"] is hung


REFERENCE = re.compile(r"\bRG-[A-Z0-9]{6}\b")
NAME, PHONE, NOTE = "Philippa Duckworth", "0113 496 0163", "the lad from number nine"
TYPED = (NAME, "Duckworth", PHONE, "1134960163", NOTE)


class Visitor:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.sender = str(uuid.uuid4())

    def say(self, text: str, timeout_s: float = 60) -> Tuple[str, str, float]:
        """The reply's text, its boot id, and how long it took."""
        request = urllib.request.Request(f"{self.stack.rasa_url}/webhooks/rest/webhook",
                                         data=json.dumps({"sender": self.sender, "message": text}).encode(),
                                         headers={"Content-Type": "application/json"})
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            messages = json.loads(response.read())
            return ("\n".join(m.get("text", "") for m in messages), response.headers[BOOT_HEADER],
                    time.monotonic() - started)

    def talk(self, steps: List[Tuple[str, str]]) -> str:
        reply = ""
        for text, asks in steps:
            reply = self.say(text)[0]
            assert asks.lower() in reply.lower(), f"after {text!r} expected {asks!r}, got {reply!r}"
        return reply

    def slots(self) -> dict:
        url = f"{self.stack.rasa_url}/conversations/{self.sender}/tracker?token={self.stack.api_token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())["slots"]


START = [("could someone give me a ring back", "Is that OK?"), ("yes", "What name"), (NAME, "phone number")]
FINISH = [("no, don't leave a message", "good time to call"), ("evenings", "who you are"),
          ("rather not say", "Anything short"), (NOTE, "Shall I send this")]


def honest(reply: str) -> bool:
    """Says nothing was stored when nothing was: no reference, no thanks for a saved request."""
    return not REFERENCE.search(reply) and "saved" not in reply.lower()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def supervised(trained_model, stack_database, tmp_path_factory) -> Iterator[Stack]:
    stack = Stack(model=trained_model, ports=Ports.free(), env={"RG_DATABASE_URL": stack_database, "RG_SMTP_HOST": ""},
                  log_dir=tmp_path_factory.mktemp("fault-logs"), api_token=secrets.token_urlsafe(24))
    supervisor = Supervisor(stack)
    stack.start()
    try:
        stack.wait_until_ready()
        supervisor.start()
        yield stack
    finally:
        supervisor.stop()
        stack.stop()


def finish_and_submit(visitor: Visitor, database_url: str) -> None:
    before = stored_references(database_url)
    visitor.talk(FINISH)
    final = visitor.say("yes send it")[0]
    match = REFERENCE.search(final)
    assert match, final
    assert stored_references(database_url) - before == {match.group(0)}


@pytest.mark.stack
def test_action_server_killed_mid_form(supervised, stack_database, caplog):
    caplog.set_level(logging.INFO, logger="bot.launcher")
    visitor = Visitor(supervised)
    visitor.talk(START)
    killed = supervised.processes["actions"]
    os.killpg(killed.pid, signal.SIGKILL)

    reply, _, _ = visitor.say(PHONE)
    assert honest(reply), reply
    wait_for(lambda: supervised.processes["actions"] is not killed and answers(supervised.health_url("actions")), 60,
             "the action server to be started again")
    assert "The actions process exited" in caplog.text
    assert visitor.slots()["callback_name"] == NAME  # Rasa still has the conversation
    if "voicemail" not in reply:  # the message that met the dead server was not lost only if Rasa got through
        visitor.talk([(PHONE, "voicemail")])
    finish_and_submit(visitor, stack_database)


@pytest.mark.stack
def test_action_server_hung_mid_form(supervised, stack_database, caplog):
    caplog.set_level(logging.INFO, logger="bot.launcher")
    visitor = Visitor(supervised)
    visitor.talk(START)
    hung = supervised.processes["actions"]
    os.killpg(hung.pid, signal.SIGSTOP)
    try:
        reply, _, took_s = visitor.say(PHONE, timeout_s=UPSTREAM_TIMEOUT_S)  # what the website app waits
    finally:
        wait_for(lambda: supervised.processes["actions"] is not hung, 60, "the hung action server to be replaced")
    assert honest(reply), reply
    assert took_s < UPSTREAM_TIMEOUT_S
    assert hung.returncode == -signal.SIGKILL and "The actions process stopped answering" in caplog.text
    wait_for(lambda: answers(supervised.health_url("actions")), 60, "the new action server")
    if "voicemail" not in reply:
        visitor.talk([(PHONE, "voicemail")])
    finish_and_submit(visitor, stack_database)


@pytest.mark.stack
def test_rasa_killed_mid_form_is_started_again_without_the_conversation(supervised, caplog):
    caplog.set_level(logging.INFO, logger="bot.launcher")
    visitor = Visitor(supervised)
    visitor.talk(START[:2])
    before = visitor.say(NAME)[1]
    killed = supervised.processes["rasa"]
    os.killpg(killed.pid, signal.SIGKILL)
    wait_for(lambda: supervised.processes["rasa"] is not killed and answers(f"{supervised.rasa_url}/"),
             launcher.READY_TIMEOUT_S + 30, "Rasa to be started again")
    assert "The rasa process exited" in caplog.text

    reply, after, _ = visitor.say(PHONE)
    assert after != before  # how the website app knows the conversation was lost
    assert honest(reply)
    assert not visitor.slots().get("callback_name")  # kept in memory only: gone with the process


@pytest.mark.stack
def test_nothing_typed_reached_any_log(supervised):
    logs = "".join(path.read_text(errors="replace") for path in supervised.log_dir.glob("*.log"))
    for typed in (*TYPED, "+441134960163"):
        assert typed not in logs, f"{typed!r} is in a log"
