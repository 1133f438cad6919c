"""Fixtures shared by the test modules.

`stack` starts the real assistant (action server, Rasa server with the trained model, website app)
on free loopback ports with its own SQLite database, once per test session.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest

from bot.settings import CHAT_LIMITS_LIFTED, PROJECT_ROOT
from support import free_port

ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot.nlu.training import ensure_model

    return ensure_model()


@pytest.fixture(scope="session")
def stack_database(tmp_path_factory) -> str:
    from bot.callbacks.store import CallbackStore

    url = f"sqlite:///{tmp_path_factory.mktemp('stack') / 'callbacks.sqlite3'}"
    CallbackStore.create_or_upgrade(url)  # as `make run` does: the stack's services only open an existing one
    return url


@pytest.fixture(scope="session")
def stack(trained_model, stack_database, tmp_path_factory) -> Iterator["Stack"]:  # noqa: F821
    from bot.launcher import Ports, Stack
    from bot.web.passwords import hash_password

    staff_password = secrets.token_urlsafe(12)
    running = Stack(
        model=trained_model,
        ports=Ports.free(),
        env={
            "RG_DATABASE_URL": stack_database,
            "RG_SMTP_HOST": "",
            **CHAT_LIMITS_LIFTED,
            "RG_STAFF_PASSWORD_HASH": hash_password(staff_password),
        },
        log_dir=ARTIFACTS / "stack-logs",
        api_token=secrets.token_urlsafe(24),  # make eval's caller simulator reads the form's state with it
    )
    running.staff_password = staff_password  # type: ignore[attr-defined]
    running.start()
    try:
        running.wait_until_ready()
        yield running
    finally:
        running.stop()


class RestConversation:
    """One visitor talking to Rasa's REST channel, as the widget's server side does."""

    def __init__(self, rasa_url: str) -> None:
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.sender = str(uuid.uuid4())

    def say(self, text: str) -> List[dict]:
        body = json.dumps({"sender": self.sender, "message": text}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def say_text(self, text: str) -> str:
        return "\n".join(message.get("text", "") for message in self.say(text))


@pytest.fixture
def conversation(stack) -> RestConversation:
    return RestConversation(stack.rasa_url)


@pytest.fixture(scope="session")
def postgresql():
    """A real PostgreSQL server on loopback (skipped where PostgreSQL is not installed), once per session."""
    from bot.scaling import server_binary

    psycopg2 = pytest.importorskip("psycopg2")
    try:
        initdb, pg_ctl = server_binary("initdb"), server_binary("pg_ctl")
    except RuntimeError:
        pytest.skip("PostgreSQL is not installed (make test-setup installs it)")
    # Not under pytest's own temporary directory, which only its owner can enter.
    run_as = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = Path(tempfile.mkdtemp(prefix="rg-test-pg-"))
    try:
        if run_as:
            shutil.chown(data, "postgres")
        port = free_port()
        subprocess.run([*run_as, initdb, "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*run_as, pg_ctl, "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                        "-o", f"-p {port} -k {data} -h 127.0.0.1", "start"], check=True, capture_output=True,
                       timeout=60)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", psycopg2
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data / "db"), "-m", "fast", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_url(postgresql):
    base, psycopg2 = postgresql
    name = f"rg_{time.monotonic_ns()}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    yield base.rsplit("/", 1)[0] + "/" + name
    admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """A real Redis server from Debian's package on loopback, once per session."""
    from bot.scaling import server_binary

    try:
        binary = server_binary("redis-server")
    except RuntimeError:
        pytest.skip("redis-server is not installed (make test-setup installs it)")
    import redis

    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=port, socket_timeout=1).ping()
                break
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "Redis did not start"
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/2"
    finally:
        process.terminate()
        process.wait(10)
