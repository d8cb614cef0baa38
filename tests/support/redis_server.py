"""The machine's Redis server, for the tests of Telegram's limits shared across instances.

The server is at ``NEWSBOT_TEST_REDIS`` (default 127.0.0.1:6379, database 0). Where none answers,
the test is skipped saying so, except in CI (``CI=true``), where it fails: CI starts the server
(.ci/run) and must never pass by skipping these tests.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("NEWSBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")


def redis_url() -> str:
    """The URL of the test Redis server; skips (or fails in CI) when none answers."""
    where = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((where.hostname or "127.0.0.1", where.port or 6379), 3) as s:
            s.sendall(b"PING\r\n")
            answered = s.recv(16).startswith(b"+PONG")
    except OSError as exc:
        answered, reason = False, str(exc)
    else:
        reason = "it does not answer PING"
    if answered:
        return REDIS_URL
    message = f"no Redis server answers at {REDIS_URL}: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI must run the Redis tests: .ci/run starts the server)")
    pytest.skip(message)
