"""Loopback helpers shared by the tests that start real servers."""
from __future__ import annotations

from bot.launcher import free_port

__all__ = ["free_port"]
