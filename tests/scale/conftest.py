"""The scaled set-up on this machine (bot/scaling.py): Redis, PostgreSQL and nginx from Debian's packages on
loopback, two replicas of every process, a real SMTP server. Started once for tests/scale/, marked `scale`."""
from __future__ import annotations

import os

import pytest

from bot.scaling import LocalCluster
from support import SmtpServer, free_port

# Short enough to watch Redis drop a conversation within the tests, long enough to outlast restarting every
# Rasa server in the middle of a form (about a minute on two cores).
EXPIRY_S = 150


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/scale/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.scale)


@pytest.fixture(scope="session")
def mail():
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cluster(trained_model, mail, tmp_path_factory):
    with LocalCluster(
        model=trained_model, replicas=2, work_dir=tmp_path_factory.mktemp("cluster"), conversation_expiry_s=EXPIRY_S,
        env={"RG_SMTP_HOST": "127.0.0.1", "RG_SMTP_PORT": str(mail.port), "RG_SMTP_STARTTLS": "false",
             "RG_NOTIFY_TO": "staff@restorativegloucestershire.test",
             "RG_CHAT_LIMIT_PER_ADDRESS": "100000", "RG_CHAT_LIMIT_PER_SENDER": "100000"},
    ) as running:
        yield running
