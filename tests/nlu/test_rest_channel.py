"""The REST channel Rasa runs (bot.nlu.rest_channel): Rasa's URL and replies, a boot id on every reply, and
nothing a visitor typed in the log when handling a message fails, is cancelled or is malformed.

The first tests serve the channel with Sanic on a loopback port, handing messages to a stand-in for Rasa's agent;
the last drives the real stack (marked stack).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
import urllib.error
import urllib.request
import uuid

import aiohttp
import pytest
from rasa.core.channels.channel import register
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, RedisTrackerStore
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bot.launcher import free_port
from bot.nlu.rest_channel import BOOT_HEADER, BOOT_ID, QuietRestInput
from bot.settings import PROJECT_ROOT

Sanic.test_mode = True  # several apps in one test process

NAME, PHONE, NOTE = "Quentin Oakshott", "0113 496 0187", "he keeps driving past the house"
TYPED = (NAME, "Oakshott", PHONE, "1134960187", NOTE, "driving past")


class StandInAgent:
    """Answers like Rasa's agent: "boom ..." fails, "hang ..." never finishes, anything else is echoed."""

    def __init__(self, tracker_store=None) -> None:
        self.handled = 0
        # As Rasa's agent holds it: the configured store inside Rasa's fail-safe wrapper.
        self.tracker_store = FailSafeTrackerStore(tracker_store or InMemoryTrackerStore(Domain.empty()))

    async def handle_message(self, message) -> None:
        self.handled += 1
        if message.text.startswith("boom"):
            raise ValueError(f"could not read {message.text!r} from {message.sender_id}")
        if message.text.startswith("hang"):
            await asyncio.Event().wait()
        if message.text.startswith("faq"):
            # As Rasa's processor sends a response: BotUttered.message(), with the response's name.
            await message.output_channel.send_response(
                message.sender_id, {"text": "First part.\n\nSecond part.", "utter_action": "utter_faq/what_is_rj"})
            buttons = [{"title": "Yes", "payload": "/affirm"}]
            await message.output_channel.send_response(
                message.sender_id, {"text": "More?", "buttons": buttons, "utter_action": "utter_anything_else"})
            return
        await message.output_channel.send_text_message(message.sender_id, f"echo: {len(message.text)} characters")


@pytest.fixture
async def channel():
    async with serve_channel(StandInAgent()) as served:
        yield served


@contextlib.asynccontextmanager
async def serve_channel(agent):
    app = Sanic(f"channel-{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.ctx.agent = agent
    register([QuietRestInput()], app, route="/webhooks/")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/rest", app.ctx.agent
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


async def post(url: str, body, timeout_s: float = 10):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
        async with session.post(url + "/webhook", data=data, headers={"Content-Type": "application/json"}) as reply:
            return reply.status, reply.headers, await reply.text()


async def test_same_url_and_replies_as_rasas_rest_channel_with_the_boot_id(channel):
    url, _ = channel
    status, headers, body = await post(url, {"sender": "visitor-1", "message": "hello"})
    assert status == 200
    assert json.loads(body) == [{"recipient_id": "visitor-1", "text": "echo: 5 characters"}]
    assert headers[BOOT_HEADER] == BOOT_ID and len(BOOT_ID) == 16
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/") as health:
            assert health.status == 200 and health.headers[BOOT_HEADER] == BOOT_ID


async def test_no_boot_id_where_conversations_are_shared_in_redis(redis_url):
    """The scaled set-up: a restart or another replica loses nothing, so nothing may say it did."""
    store = RedisTrackerStore(Domain.empty(), host="127.0.0.1", port=int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    async with serve_channel(StandInAgent(store)) as (url, _):
        status, headers, _ = await post(url, {"sender": "visitor-r", "message": "hello"})
    assert status == 200 and BOOT_HEADER not in headers


async def test_each_message_names_the_response_it_came_from(channel):
    url, _ = channel
    status, _, body = await post(url, {"sender": "visitor-9", "message": "faq please"})
    assert status == 200
    assert json.loads(body) == [
        {"recipient_id": "visitor-9", "text": "First part.", "utter_action": "utter_faq/what_is_rj"},
        {"recipient_id": "visitor-9", "text": "Second part.", "utter_action": "utter_faq/what_is_rj"},
        {"recipient_id": "visitor-9", "text": "More?", "buttons": [{"title": "Yes", "payload": "/affirm"}],
         "utter_action": "utter_anything_else"},
    ]


async def test_a_failure_is_logged_by_kind_only_and_answered_as_rasa_does(channel, caplog):
    url, _ = channel
    caplog.set_level(logging.INFO)
    status, headers, body = await post(url, {"sender": "visitor-2", "message": f"boom {NAME} {PHONE}"})
    assert (status, json.loads(body), headers[BOOT_HEADER]) == (200, [], BOOT_ID)
    assert "Handling a message failed (ValueError)" in caplog.text
    assert not any(typed in caplog.text for typed in TYPED) and "visitor-2" not in caplog.text


async def test_a_cancelled_message_is_logged_without_its_text(channel, caplog):
    url, agent = channel
    caplog.set_level(logging.INFO)
    with pytest.raises(asyncio.TimeoutError):  # the visitor's side gives up, as the website app does after 30 s
        await post(url, {"sender": "visitor-3", "message": f"hang {NOTE}"}, timeout_s=0.5)
    deadline = time.monotonic() + 10
    while "was cancelled" not in caplog.text and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert "Handling a message was cancelled" in caplog.text
    assert NOTE not in caplog.text and "visitor-3" not in caplog.text
    assert agent.handled == 1


@pytest.mark.parametrize("body", [
    f"my number is {PHONE}",  # not JSON
    json.dumps([PHONE]),  # not an object
    json.dumps({"sender": "visitor-4", "message": 1134960187}),  # the number typed as a number
    json.dumps({"message": PHONE}),  # no sender: Rasa would file it under the shared "default" conversation
    json.dumps({"sender": "", "message": PHONE}),
])
async def test_a_malformed_request_is_refused_unread(channel, caplog, body):
    url, agent = channel
    caplog.set_level(logging.DEBUG)
    status, headers, reply = await post(url, body)
    assert status == 400 and headers[BOOT_HEADER] == BOOT_ID
    assert agent.handled == 0
    assert not any(typed in reply + caplog.text for typed in TYPED)


def test_rasa_loads_it_from_credentials_yml():
    from rasa.core.run import create_http_input_channels

    [channel] = create_http_input_channels(None, str(PROJECT_ROOT / "credentials.yml"))
    assert isinstance(channel, QuietRestInput) and channel.url_prefix() == "rest"


def say(stack, sender: str, text: str, timeout_s: float = 60) -> str:
    request = urllib.request.Request(f"{stack.rasa_url}/webhooks/rest/webhook",
                                     data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return "\n".join(m.get("text", "") for m in json.loads(response.read()))


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout_s:.0f} s for {what}"
        time.sleep(0.1)


def stack_logs(stack) -> str:
    return "".join(path.read_text(errors="replace") for path in stack.log_dir.glob("*.log"))


@pytest.mark.stack
def test_a_timeout_an_exception_and_malformed_requests_leave_nothing_typed_in_the_logs(stack):
    sender = str(uuid.uuid4())
    assert "Is that OK?" in say(stack, sender, "could someone ring me back please")
    assert "What name" in say(stack, sender, "yes")
    assert "phone number" in say(stack, sender, NAME)

    # The action server hangs: the caller gives up waiting, and Rasa's handling of the message is cancelled.
    actions = stack.processes["actions"]
    os.killpg(actions.pid, signal.SIGSTOP)
    try:
        with pytest.raises((TimeoutError, urllib.error.URLError)):
            say(stack, sender, PHONE, timeout_s=3)
        wait_for(lambda: "Handling a message was cancelled" in stack_logs(stack), 30, "the cancellation in the log")
    finally:
        os.killpg(actions.pid, signal.SIGCONT)
    assert "voicemail" in say(stack, sender, PHONE)  # nothing was lost but that one reply

    # Metadata nested deeper than Python's json module can write (though not too deep to read) fails when Rasa
    # saves the conversation: the channel answers anyway.
    failed_before = stack_logs(stack).count("Handling a message failed")
    nested = "1"
    for _ in range(1000):
        nested = '{"x": ' + nested + "}"
    body = f'{{"sender": "{sender}", "message": "{NOTE}", "metadata": {nested}}}'.encode()
    request = urllib.request.Request(f"{stack.rasa_url}/webhooks/rest/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
    wait_for(lambda: stack_logs(stack).count("Handling a message failed") > failed_before, 30, "the failure")

    for body in (f"my note: {NOTE}".encode(), json.dumps({"sender": sender, "message": 1134960187}).encode()):
        request = urllib.request.Request(f"{stack.rasa_url}/webhooks/rest/webhook", data=body,
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 400

    logs = stack_logs(stack)
    for typed in (*TYPED, "+441134960187", sender):
        assert typed not in logs, f"{typed!r} is in a log"
