"""Fixtures the callback tests share: a private SQLite file and a store opened on it."""
from __future__ import annotations

import pytest

from bot.callbacks.store import CallbackStore


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "callbacks.sqlite3"


@pytest.fixture
def store(db_path):
    s = CallbackStore(f"sqlite:///{db_path}")
    yield s
    s.close()
