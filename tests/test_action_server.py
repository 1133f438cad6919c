"""The action server (bot.action_server) as a real process: on loopback, answering only with the shared token,
keeping a new connection open long enough for a busy Rasa, and failing without echoing the conversation; and
Rasa's client for it (bot.nlu.rasa_server.ActionServerEndpoint) getting through a restart of it."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, Iterator, Optional

import aiohttp
import pytest
from rasa.utils.endpoints import EndpointConfig
from sanic.config import DEFAULT_CONFIG

from bot.launcher import free_port
from bot.nlu import rasa_server
from bot.settings import PROJECT_ROOT
from support import stored_references

PHONE, NAME = "+441134960175", "Ottoline Brackenbury"


pytestmark = pytest.mark.processes

def submit_call(key: Optional[str]) -> dict:
    """An action call as Rasa makes it: the callback form's submit, everything confirmed."""
    slots = {"callback_consent": True, "callback_confirmed": True, "callback_name": NAME, "callback_phone": PHONE,
             "callback_safe_to_identify": False, "callback_time": "after six", "callback_role": "person_harmed",
             "callback_note": "please be discreet"}
    if key:
        slots["callback_key"] = key
    sender = str(uuid.uuid4())
    return {"next_action": "action_submit_callback", "sender_id": sender, "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": sender, "slots": slots, "latest_message": {}, "events": [],
                        "active_loop": {}, "latest_action_name": "callback_form"}}


class ActionServer:
    def __init__(self, database_url: str, log: Path, token: Optional[str] = None, stock: bool = False,
                 port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.token = token or secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = ([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.port)] if stock
                   else [sys.executable, "-m", "bot.action_server", "--port", str(self.port)])
        env = {**os.environ, "RG_DATABASE_URL": database_url, "RG_ACTION_SERVER_TOKEN": self.token,
               "SANIC_HOST": "127.0.0.1"}
        self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=open(log, "w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_ready(self, timeout_s: float = 60) -> "ActionServer":
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return self
            except OSError:
                assert time.monotonic() < deadline, "the action server did not start"
                time.sleep(0.1)

    def call(self, path: str, body: Optional[dict] = None, headers: Optional[Dict[str, str]] = None):
        request = urllib.request.Request(self.url + path, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b"null")

    @property
    def bearer(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture(scope="module")
def action_server(stack_database, tmp_path_factory) -> Iterator[ActionServer]:
    server = ActionServer(stack_database, tmp_path_factory.mktemp("actions") / "actions.log").wait_until_ready()
    yield server
    server.stop()


def test_health_is_open_and_says_only_ok(action_server):
    assert action_server.call("/health") == (200, {"status": "ok"})


def test_without_the_token_nothing_is_run_or_stored(action_server, stack_database):
    before = stored_references(stack_database)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": action_server.token},
                    {"Authorization": f"Basic {action_server.token}"}):
        refused = action_server.call("/webhook", submit_call(uuid.uuid4().hex), headers)
        assert refused == (401, {"error": "unauthorised"})
        assert action_server.call("/actions", None, headers)[0] == 401
    assert stored_references(stack_database) == before


def test_with_the_token_a_request_is_stored(action_server, stack_database):
    before = stored_references(stack_database)
    status, reply = action_server.call("/webhook", submit_call(uuid.uuid4().hex), action_server.bearer)
    assert status == 200 and reply["responses"][0]["response"] == "utter_callback_saved"
    [reference] = stored_references(stack_database) - before
    assert reply["responses"][0]["reference"] == reference


def test_it_listens_on_loopback_only(action_server):
    listening = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    [address] = [fields[1] for fields in listening if fields[3] == "0A" and int(fields[1].split(":")[1], 16)
                 == action_server.port]
    assert address.split(":")[0] == "0100007F"  # 127.0.0.1


def test_a_failing_action_is_logged_by_kind_and_the_conversation_is_not_sent_back(action_server):
    status, reply = action_server.call("/webhook", submit_call(key=None), action_server.bearer)  # no key: KeyError
    assert (status, reply) == (500, {"error": "The action failed."})
    log = action_server.log.read_text()
    assert re.search(r"Action action_submit_callback failed: KeyError at callback_form\.py:\d+", log), log
    assert NAME not in log and PHONE not in log and "1134960175" not in log


def test_it_does_not_start_without_a_token(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "RG_ACTION_SERVER_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "bot.action_server", "--port", str(free_port())], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "RG_ACTION_SERVER_TOKEN is not set" in result.stderr


class WritesLate(EndpointConfig):
    """Rasa's own client for the action server, writing its request a while after connecting, as Rasa does
    when the model's work for other conversations holds its event loop meanwhile (so it blocks here too)."""

    gap_s = 0.0

    def session(self) -> aiohttp.ClientSession:
        async def busy(session, context, params) -> None:  # noqa: ARG001
            time.sleep(self.gap_s)

        trace = aiohttp.TraceConfig()
        trace.on_connection_create_end.append(busy)
        return aiohttp.ClientSession(headers=self.headers, trace_configs=[trace])


async def test_a_request_written_long_after_connecting_is_still_answered(action_server, stack_database, tmp_path):
    # Sanic closes a connection that has carried no request for KEEP_ALIVE_TIMEOUT, counted from its opening
    # and checked every half of it: by 1.5 times the default, rasa-sdk's server has closed it.
    gap_s = DEFAULT_CONFIG["KEEP_ALIVE_TIMEOUT"] * 1.5 + 1
    stock = ActionServer(stack_database, tmp_path / "stock.log", token=action_server.token, stock=True)
    try:
        stock.wait_until_ready()

        async def call(server: ActionServer):
            client = WritesLate(url=server.url + "/webhook", headers=server.bearer)
            client.gap_s = gap_s
            try:
                return await client.request(json=submit_call(uuid.uuid4().hex), method="post")
            except aiohttp.ClientError as lost:
                return lost

        theirs = await call(stock)
        ours = await call(action_server)
    finally:
        stock.stop()
    assert isinstance(theirs, (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)), theirs  # the lost call
    assert ours["responses"][0]["response"] == "utter_callback_saved"


async def test_rasas_client_gets_through_a_restart_of_the_action_server(stack_database, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="aiohttp_retry")
    port, token = free_port(), secrets.token_urlsafe(24)  # nothing listens there until a call has been refused
    client = rasa_server.ActionServerEndpoint(url=f"http://127.0.0.1:{port}/webhook",
                                              headers={"Authorization": f"Bearer {token}"})
    call = asyncio.ensure_future(client.request(json=submit_call(uuid.uuid4().hex), method="post"))
    deadline = time.monotonic() + 10
    while "Retrying after exception" not in caplog.text:
        assert time.monotonic() < deadline and not call.done(), "no refused attempt was retried"
        await asyncio.sleep(0.02)
    server = ActionServer(stack_database, tmp_path / "late.log", token=token, port=port)
    try:
        reply = await asyncio.wait_for(call, timeout=60)
    finally:
        server.stop()
    assert reply["responses"][0]["response"] == "utter_callback_saved"


async def test_a_hung_action_server_costs_one_time_limit_and_no_retry(action_server, monkeypatch):
    monkeypatch.setattr(rasa_server, "ACTION_CALL_TIMEOUT_S", 1.0)
    client = rasa_server.ActionServerEndpoint(url=action_server.url + "/webhook", headers=action_server.bearer)
    os.killpg(action_server.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await client.request(json=submit_call(uuid.uuid4().hex), method="post")
        assert time.monotonic() - started < 3
    finally:
        os.killpg(action_server.process.pid, signal.SIGCONT)
