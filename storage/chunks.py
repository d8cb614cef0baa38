"""Queries over long lists of values, in bounded ``IN (...)`` chunks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.db import Conn

# SQLite's default limit on host parameters is 32766; stay far below.
CHUNK = 500


def in_chunks(conn: Conn, sql: str, values: Sequence[object]) -> list[Any]:
    """Run ``sql`` (with one ``IN ({})``) over ``values`` in bounded chunks; all rows."""
    rows: list[Any] = []
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        rows.extend(conn.execute(sql.format(marks), list(chunk)))
    return rows
