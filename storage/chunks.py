"""Queries over long lists of values, in bounded ``IN (...)`` chunks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.db import POSTGRESQL, Conn

# SQLite's default limit on host parameters is 32766; stay far below.
CHUNK = 500


def in_chunks(conn: Conn, sql: str, values: Sequence[object]) -> list[Any]:
    """Run ``sql`` (with one ``IN ({})``) over ``values`` in bounded chunks; all rows.

    PostgreSQL takes them all at once as one array (``= ANY (?)``, which is what the server
    makes of an ``IN`` list anyway): one statement and one parameter, where 500 placeholders
    a chunk cost more to send and plan than the look-up (~50 ms of an import's batch).
    """
    if conn.dialect == POSTGRESQL:
        if not values:
            return []
        return conn.execute(sql.replace("IN ({})", "= ANY (?)"), [list(values)]).fetchall()
    rows: list[Any] = []
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        rows.extend(conn.execute(sql.format(marks), list(chunk)))
    return rows
