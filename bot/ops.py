"""Operations from the command line: ``newsbot backup`` and ``newsbot check-config``.

``backup`` copies the store with SQLite's online backup API, so it is safe while the bot runs
and writes, and leaves either a complete, checked copy at the target or nothing there.
``check-config`` prints the configuration in effect, every default filled in, secrets masked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import time
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bot.exitcodes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from core.clock import utc_now
from core.settings import (
    POSTGRESQL_SCHEMES,
    ChannelConfig,
    Config,
    QuietHours,
    StorageConfig,
    masked_url,
)
from storage import copy
from storage.db import StoreError, describe, readonly_uri, recognise

# The copy goes STEP_PAGES pages at a time with a pause between steps, holding no lock in the
# pause, so a slow disk still serves the bot's own reads and writes. A write by another
# connection between two steps restarts the copy (SQLite's rule), so on a busy bot, after
# MAX_RESTARTS, the rest is copied in one step from one read snapshot. Under WAL (the store's
# mode) that snapshot does not block the bot's writes either; it only holds back checkpoints,
# so the -wal file may grow while the copy runs.
STEP_PAGES = 4096
STEP_SLEEP = 0.005
MAX_RESTARTS = 3
BUSY_TIMEOUT = 5.0

SECRET_KEYS = frozenset({"token", "secret_token"})
MASK = "***"
# Keys the config file spells as durations ("10m") and the dataclasses hold as seconds.
_DURATION_KEYS = {"every_seconds": "every", "max_age_seconds": "max_age"}


class BackupError(RuntimeError):
    """The backup was not made; the message is one line saying why."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    target: str
    size_bytes: int
    articles: int
    seconds: float
    restarts: int  # stepped copies restarted by the bot's writes
    snapshot: bool  # finished in one step after too many restarts

    def describe(self, source: str) -> str:
        return (
            f"backed up {source} to {self.target}: {self.articles} articles,"
            f" {self.size_bytes / 1e6:.1f} MB, integrity ok, {self.seconds:.1f} s"
        )


class _Restarted(Exception):
    pass


async def backup(store_path: str, target: str, *, force: bool = False) -> BackupResult:
    """Copy the store at ``store_path`` to ``target`` (a file, or a folder to put one in).

    An existing target is kept unless ``force``. The copy is written beside the target under
    a temporary name, checked with ``PRAGMA integrity_check`` and only then renamed into place.
    """
    # Path() drops a trailing slash, which says "a folder": keep that apart.
    folder = target.endswith(("/", os.sep))
    return await asyncio.to_thread(_backup, Path(store_path), Path(target), force, folder)


def _backup(source: Path, target: Path, force: bool, folder: bool) -> BackupResult:
    started = time.monotonic()
    if source.is_dir():
        raise BackupError(f"{source}: a folder, not a store file (see [storage].path)")
    if not source.is_file():
        raise BackupError(f"{source}: no such store (see [storage].path)")
    if folder and not target.is_dir():
        raise BackupError(f"{target}/: no such folder")
    if target.is_dir():
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        target = target / f"{source.stem}-{stamp}{source.suffix or '.db'}"
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder")
    if target.exists():
        if target.resolve() == source.resolve():
            raise BackupError(f"{target} is the store itself")
        if not force:
            raise BackupError(f"{target} exists; pass --force to replace it")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        restarts, snapshot = _copy(source, partial)
        articles = _check(partial)
        if target.exists() and not force:  # appeared while we copied
            raise BackupError(f"{target} exists; pass --force to replace it")
        os.replace(partial, target)
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            partial.with_name(partial.name + suffix).unlink(missing_ok=True)
    return BackupResult(
        str(target),
        target.stat().st_size,
        articles,
        time.monotonic() - started,
        restarts,
        snapshot,
    )


def _copy(source: Path, partial: Path) -> tuple[int, bool]:
    """Copy page-stepped; fall back to one snapshot when the bot's writes keep restarting it."""
    restarts = 0
    last: int | None = None

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal restarts, last
        # Each step leaves fewer pages to copy; as many or more means it began again.
        if last is not None and remaining >= last:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise _Restarted
        last = remaining
        if remaining:
            # sqlite3's own ``sleep`` applies only when a step finds the file busy.
            time.sleep(STEP_SLEEP)

    try:
        # Read-only, so a store in a read-only folder (a mounted snapshot) backs up as well.
        src = sqlite3.connect(readonly_uri(str(source)), uri=True, timeout=BUSY_TIMEOUT)
    except sqlite3.Error as exc:
        raise BackupError(describe(str(source), exc)) from exc
    try:
        _is_store(src, source)
        dst = sqlite3.connect(partial)
        try:
            try:
                src.backup(dst, pages=STEP_PAGES, progress=progress, sleep=STEP_SLEEP)
                snapshot = False
            except _Restarted:
                src.backup(dst, pages=-1)
                snapshot = True
            # The copy is one self-contained file: no -wal beside it to lose.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    except StoreError as exc:
        raise BackupError(str(exc)) from exc
    except sqlite3.Error as exc:
        raise BackupError(f"backup failed: {describe(str(source), exc)}") from exc
    finally:
        src.close()
    return restarts, snapshot


def _is_store(conn: sqlite3.Connection, source: Path) -> None:
    """Refuse another application's database; faults of the file itself are said as such."""
    if recognise(conn, str(source)) and not conn.execute("SELECT 1 FROM sqlite_master").fetchone():
        raise BackupError(f"{source}: an empty file, not a newsbot store (see [storage].path)")


def _check(copy: Path) -> int:
    """Integrity-check the copy; return its article count."""
    conn = sqlite3.connect(copy)
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if found != ["ok"]:
            raise BackupError(f"the copy failed its integrity check: {'; '.join(found[:3])}")
        return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error as exc:
        raise BackupError(f"the copy cannot be read back: {exc}") from exc
    finally:
        conn.close()


# -- check-config ----------------------------------------------------------------------------


def mask_token(token: str) -> str:
    """``123456:ABC...`` -> ``123456:***``.

    The part before the colon is the bot's user id, which is public (every message the bot
    sends carries it) and tells which bot a config is for; the rest is the secret.
    """
    bot_id, colon, _ = token.partition(":")
    return f"{bot_id}:{MASK}" if colon and bot_id.isdigit() else MASK


def format_duration(seconds: int) -> str:
    """600 -> ``"10m"``, 5400 -> ``"1h30m"``: the spelling the config file uses."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def check_config(config: Config) -> str:
    """The configuration in effect as TOML: every section and default, secrets masked.

    The bot token keeps its bot id (see ``mask_token``); other secrets become ``***``. With
    the secrets put back, the text loads as the same configuration.
    """
    source = config.path or "no config file: built-in defaults"
    lines = [f"# newsbot configuration in effect ({source}); secrets masked"]
    for item in fields(config):
        value = getattr(config, item.name)
        if item.name == "path":
            continue
        if item.name == "topics":
            for topic in value:
                _table(lines, f"topics.{topic.slug}", topic, skip={"slug"})
            if not value:
                lines += ["", "# no [topics.<slug>]"]
        elif is_dataclass(value):
            _table(lines, item.name, value)
        elif isinstance(value, tuple):
            for entry in value:
                _table(lines, item.name, entry, array=True)
            if not value:
                lines += ["", f"# no [[{item.name}]]"]
    return "\n".join(lines) + "\n"


def _table(
    lines: list[str], name: str, obj: Any, *, array: bool = False, skip: set[str] | None = None
) -> None:
    lines += ["", f"[[{name}]]" if array else f"[{name}]"]
    nested: list[tuple[str, Any]] = []
    for item in fields(obj):
        key, value = item.name, getattr(obj, item.name)
        if skip and key in skip:
            continue
        if isinstance(obj, ChannelConfig) and key == "mode" and value != "instant":
            continue  # an "every" channel is spelled by its every = "..." alone
        if is_dataclass(value) and not isinstance(value, QuietHours):
            nested.append((f"{name}.{key}", value))
            continue
        if isinstance(obj, StorageConfig) and obj.url is not None:
            if key == "path":
                continue  # the URL is the store; a path beside it would not load back
            if key == "url":
                value = masked_url(value)
        if key == "shared_limits" and isinstance(value, str):
            value = masked_url(value)  # a Redis URL may carry its password
        if key in _DURATION_KEYS and isinstance(value, int):
            key, value = _DURATION_KEYS[key], format_duration(value)
        if value is None:
            lines.append(f"# {key}: not set")
            continue
        if key in SECRET_KEYS and isinstance(value, str):
            value = mask_token(value) if key == "token" else MASK
        lines.append(f"{key} = {_value(value)}")
    for sub_name, sub in nested:
        _table(lines, sub_name, sub)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, QuietHours):
        return _value(f"{value.start}-{value.end}")
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    # JSON's string escapes are TOML's, except that TOML wants DEL escaped too.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


# -- the commands ----------------------------------------------------------------------------


async def cmd_backup(config: Config, args: argparse.Namespace) -> int:
    if config.storage.url is not None:
        print(
            f"newsbot: backup copies an SQLite store; {config.storage.where} is PostgreSQL:"
            " use pg_dump -Fc (see docs/deployment.md)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        result = await backup(config.storage.path, args.target, force=args.force)
    except BackupError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(result.describe(config.storage.path))
    return EXIT_OK


async def cmd_copy_store(config: Config, args: argparse.Namespace) -> int:
    """Copy the configured store into an empty one, with a progress bar; counts checked."""
    target = args.target
    if not target.startswith(POSTGRESQL_SCHEMES):
        target = str(Path(target))
    shown = masked_url(target)
    await copy.prepare(config.storage.target, target)
    with tqdm(desc="copying", unit=" rows", file=sys.stderr, disable=args.quiet or None) as bar:
        try:
            report = await asyncio.to_thread(
                copy.copy_store, config.storage.target, target, progress=bar.update
            )
        except copy.CopyError as exc:
            print(f"newsbot: {exc}", file=sys.stderr)
            return EXIT_FAILED
    for table, count in report.counts.items():
        print(f"{table}: {count}")
    print(f"copied {report.rows} rows from {config.storage.where} to {shown}; every count agrees")
    return EXIT_OK


async def cmd_check_config(config: Config, args: argparse.Namespace) -> int:
    print(check_config(config), end="")
    return EXIT_OK
