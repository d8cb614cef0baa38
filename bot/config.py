"""newsbot's configuration: TOML, validated whole at load, passed explicitly.

Every error is one line naming the file and the key, so the user knows what to fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.clock import hhmm
from core.settings import (
    DEFAULT_API_BASE_URL,
    POSTGRESQL_SCHEMES,
    ChannelConfig,
    Config,
    ConfigError,
    DeliveryConfig,
    FeedConfig,
    FetchConfig,
    LoggingConfig,
    MetricsConfig,
    QuietHours,
    StorageConfig,
    StoriesConfig,
    TelegramConfig,
    TopicConfig,
    WebhookConfig,
    masked_url,
)

DEFAULT_CONFIG_PATH = "config.toml"
DATABASE_URL_ENV = "NEWSBOT_DATABASE_URL"  # selects PostgreSQL over [storage]
TOKEN_ENV = "NEWSBOT_TOKEN"  # noqa: S105 - the variable's name, not a secret
CONFIG_ENV = "NEWSBOT_CONFIG"

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_CHANNEL = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
# Telegram's rule for setWebhook's secret_token.
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# The ports Telegram's own servers deliver webhooks to (a local Bot API server takes any).
_WEBHOOK_PORTS = (443, 80, 88, 8443)


def parse_duration(text: str) -> int:
    """``"10m"``, ``"1h30m"``, ``"45s"``, ``"2d"`` -> seconds; anything else is ValueError."""
    compact = text.strip().lower()
    pos = 0
    total = 0
    for match in _DURATION.finditer(compact):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(compact) or not compact or total <= 0:
        raise ValueError(f"{text!r} is not a duration such as '30s', '10m', '1h30m' or '1d'")
    return total


def parse_clock_range(text: str) -> QuietHours:
    """``"23:00-07:00"`` -> QuietHours; the window may wrap midnight."""
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a range such as '23:00-07:00'")
    try:
        clocks = [hhmm(part) for part in parts]
    except ValueError:
        raise ValueError(f"{text!r} is not a range such as '23:00-07:00'") from None
    if clocks[0] == clocks[1]:
        raise ValueError(f"{text!r} is an empty range")
    return QuietHours(clocks[0], clocks[1])


class _Reader:
    """Walks one TOML table, checking keys and types, and reporting ``file: key: problem``."""

    def __init__(self, source: str, where: str, table: Any) -> None:
        self.source = source
        self.where = where
        if not isinstance(table, Mapping):
            self.fail(f"{where} must be a table")
        self.table: Mapping[str, Any] = table
        self.seen: set[str] = set()

    def fail(self, message: str) -> Any:
        raise ConfigError(f"{self.source}: {message}")

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        self.seen.add(key)
        if key not in self.table:
            return default
        value = self.table[key]
        # bool is an int in Python; TOML keeps them apart, and so do we.
        wrong_bool = isinstance(value, bool) and bool not in _as_tuple(kind)
        if wrong_bool or not isinstance(value, kind):
            self.fail(f"{self.name(key)} must be {_describe(kind)}, not {type(value).__name__}")
        return value

    def require(self, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in self.table:
            self.fail(f"{self.name(key)} is required")
        return self.get(key, kind)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(f"{self.name(key)} must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            self.fail(f"unknown key {self.name(unknown[0])}")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _describe(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def resolve_path(cli_path: str | None, environ: Mapping[str, str]) -> tuple[str, bool]:
    """The config file to read, and whether the user named it (a named file must exist)."""
    if cli_path:
        return cli_path, True
    if environ.get(CONFIG_ENV):
        return environ[CONFIG_ENV], True
    return DEFAULT_CONFIG_PATH, False


def load_config(cli_path: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config; a missing default ./config.toml means all defaults."""
    env = os.environ if environ is None else environ
    path, named = resolve_path(cli_path, env)
    file = Path(path)
    if not file.exists():
        if named:
            raise ConfigError(f"{path}: no such config file")
        return _apply_env(Config(), env)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return _apply_env(parse_config(raw, source=path), env)


def _apply_env(config: Config, environ: Mapping[str, str]) -> Config:
    token = environ.get(TOKEN_ENV)
    if token:
        config = _replace(config, telegram=replace(config.telegram, token=token))
    url = environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        problem = database_url_problem(url, DATABASE_URL_ENV)
        if problem:
            raise ConfigError(problem)
        config = _replace(config, storage=replace(config.storage, url=url))
    return config


def _replace(config: Config, **changes: Any) -> Config:
    from dataclasses import replace

    return replace(config, **changes)


def parse_config(raw: Mapping[str, Any], *, source: str = "<config>") -> Config:
    top = _Reader(source, "", raw)
    telegram = _telegram(_Reader(source, "[telegram]", top.get("telegram", dict, {})))
    storage = _storage(_Reader(source, "[storage]", top.get("storage", dict, {})))
    topics = _topics(source, top.get("topics", dict, {}))
    slugs = {t.slug for t in topics}
    feeds = tuple(
        _feed(_Reader(source, f"[[feeds]] #{i + 1}", item), slugs)
        for i, item in enumerate(top.get("feeds", list, []))
    )
    channels = tuple(
        _channel(_Reader(source, f"[[channels]] #{i + 1}", item), slugs)
        for i, item in enumerate(top.get("channels", list, []))
    )
    delivery = _delivery(_Reader(source, "[delivery]", top.get("delivery", dict, {})))
    fetch = _fetch(_Reader(source, "[fetch]", top.get("fetch", dict, {})))
    logging_ = _logging(_Reader(source, "[logging]", top.get("logging", dict, {})))
    metrics = _metrics(_Reader(source, "[metrics]", top.get("metrics", dict, {})))
    stories = _stories(_Reader(source, "[stories]", top.get("stories", dict, {})))
    top.done()
    seen_urls: set[str] = set()
    for feed in feeds:
        if feed.url in seen_urls:
            raise ConfigError(f"{source}: [[feeds]] lists {feed.url} twice")
        seen_urls.add(feed.url)
    return Config(
        source,
        telegram,
        storage,
        topics,
        feeds,
        channels,
        delivery,
        fetch,
        logging_,
        metrics,
        stories,
    )


def _telegram(r: _Reader) -> TelegramConfig:
    token = r.get("token", str)
    base = r.get("api_base_url", str, DEFAULT_API_BASE_URL)
    if not re.match(r"https?://", base):
        r.fail(f"{r.name('api_base_url')} must start with http:// or https://")
    admins = r.get("admins", list, [])
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in admins):
        r.fail(f"{r.name('admins')} must be a list of Telegram user ids (integers)")
    hook = r.get("webhook", dict)
    webhook = None
    if hook is not None:
        webhook = _webhook(_Reader(r.source, "[telegram.webhook]", hook), base)
    r.done()
    return TelegramConfig(token or None, base, tuple(admins), webhook)


def _webhook(r: _Reader, api_base_url: str) -> WebhookConfig:
    d = WebhookConfig("", "")
    url = r.require("url", str).strip()
    # Telegram's own servers call https only, and only these ports; a local Bot API server
    # (api_base_url elsewhere) also calls http and any port.
    if api_base_url == DEFAULT_API_BASE_URL:
        if not url.startswith("https://"):
            r.fail(f"{r.name('url')} must be an https:// URL: Telegram calls webhooks over TLS")
        try:
            port = urlsplit(url).port
        except ValueError:
            port = 0
        if port is not None and port not in _WEBHOOK_PORTS:
            r.fail(f"{r.name('url')}: Telegram calls only ports 443, 80, 88 and 8443")
    elif not re.match(r"https?://", url):
        r.fail(f"{r.name('url')} must start with https:// (or http:// for a local Bot API)")
    secret = r.require("secret_token", str)
    if not SECRET_TOKEN.fullmatch(secret):
        r.fail(f"{r.name('secret_token')} must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    listen = r.get("listen", str, d.listen).strip()
    if not listen:
        r.fail(f"{r.name('listen')} must not be empty")
    port = _port(r, "port", d.port)
    path = r.get("path", str, d.path).strip()
    if not path.startswith("/"):
        r.fail(f"{r.name('path')} must start with /")
    r.done()
    return WebhookConfig(url, secret, listen, port, path)


def _port(r: _Reader, key: str, default: int) -> int:
    port: int = r.get(key, int, default)
    if not 1 <= port <= 65535:
        r.fail(f"{r.name(key)} must be a TCP port, 1-65535")
    return port


def _storage(r: _Reader) -> StorageConfig:
    path = r.get("path", str, "newsbot.db")
    if not path.strip():
        r.fail(f"{r.name('path')} must not be empty")
    url = r.get("url", str, "").strip() or None
    if url is not None:
        if "path" in r.table:
            r.fail(f"{r.name('url')} and {r.name('path')} name two stores; keep one")
        problem = database_url_problem(url, r.name("url"))
        if problem:
            r.fail(problem)
    index_dir = r.get("index_dir", str, "").strip() or None
    r.done()
    return StorageConfig(path, url, index_dir)


def database_url_problem(url: str, name: str) -> str | None:
    """What is wrong with a store URL: a PostgreSQL URL is the only kind (a file is ``path``)."""
    if url.startswith(POSTGRESQL_SCHEMES):
        return None
    return (
        f"{name} must be a PostgreSQL URL, postgresql://user@host:port/database"
        f" (got {masked_url(url)}); an SQLite file is [storage].path"
    )


def _topics(source: str, table: Any) -> tuple[TopicConfig, ...]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: [topics] must be a table of [topics.<slug>] tables")
    topics = []
    for slug, body in table.items():
        if not _SLUG.fullmatch(slug):
            raise ConfigError(
                f"{source}: [topics.{slug}]: a topic slug is 1-32 lowercase letters, digits,"
                " '-' or '_'"
            )
        r = _Reader(source, f"[topics.{slug}]", body)
        name = r.require("name", str).strip()
        if not name:
            r.fail(f"{r.name('name')} must not be empty")
        categories = r.strings("categories")
        keywords = r.strings("keywords")
        r.done()
        topics.append(TopicConfig(slug, name, categories, keywords))
    return tuple(topics)


def _known_topics(
    r: _Reader, key: str, slugs: set[str], *, required: bool = False
) -> tuple[str, ...]:
    if required and key not in r.table:
        r.fail(f"{r.name(key)} is required")
    topics = r.strings(key)
    for topic in topics:
        if topic not in slugs:
            r.fail(f"{r.name(key)} names unknown topic {topic!r} (define [topics.{topic}])")
    return topics


def _duration(r: _Reader, key: str, default: str | None) -> int | None:
    text = r.get(key, str, default)
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        return r.fail(f"{r.name(key)}: {exc}")  # type: ignore[no-any-return]


def _feed(r: _Reader, slugs: set[str]) -> FeedConfig:
    url = r.require("url", str).strip()
    if not re.match(r"(https?|file)://", url):
        r.fail(f"{r.name('url')} must be an http(s):// or file:// URL, not {url!r}")
    topics = _known_topics(r, "topics", slugs)
    every = _duration(r, "every", "10m")
    assert every is not None
    if every < 60:
        r.fail(f"{r.name('every')} must be at least 1m: feeds are not to be hammered")
    r.done()
    return FeedConfig(url, topics, every)


def _channel(r: _Reader, slugs: set[str]) -> ChannelConfig:
    chat_raw = r.require("chat", (str, int))
    chat: str | int
    if isinstance(chat_raw, int):
        chat = chat_raw
    elif re.fullmatch(r"-?\d+", chat_raw.strip()):
        chat = int(chat_raw)
    elif _CHANNEL.fullmatch(chat_raw.strip()):
        chat = chat_raw.strip()
    else:
        chat = r.fail(f"{r.name('chat')} must be @channelname or a numeric chat id")
    topics = _known_topics(r, "topics", slugs, required=True)
    mode = r.get("mode", str)
    every = _duration(r, "every", None)
    if mode is not None and mode != "instant":
        r.fail(f'{r.name("mode")} must be "instant" (or give every = "15m" instead)')
    if mode == "instant" and every is not None:
        r.fail(f'{r.name("mode")} = "instant" and {r.name("every")} exclude each other')
    if mode is None and every is None:
        r.fail(f'{r.name("every")} or {r.name("mode")} = "instant" is required')
    max_per_hour = r.get("max_per_hour", int)
    if max_per_hour is not None and max_per_hour <= 0:
        r.fail(f"{r.name('max_per_hour')} must be a positive integer")
    thread = r.get("thread", int)
    if thread is not None and thread <= 0:
        r.fail(f"{r.name('thread')} must be a forum topic's thread id, a positive integer")
    quiet_text = r.get("quiet_hours", str)
    quiet = None
    if quiet_text is not None:
        try:
            quiet = parse_clock_range(quiet_text)
        except ValueError as exc:
            r.fail(f"{r.name('quiet_hours')}: {exc}")
    r.done()
    mode_name = "every" if every else "instant"
    return ChannelConfig(chat, topics, mode_name, every, max_per_hour, quiet, thread)


def _positive(r: _Reader, key: str, default: float) -> float:
    value = r.get(key, (int, float), default)
    if value <= 0:
        r.fail(f"{r.name(key)} must be greater than 0")
    return float(value)


def _delivery(r: _Reader) -> DeliveryConfig:
    d = DeliveryConfig()
    result = DeliveryConfig(
        messages_per_second=_positive(r, "messages_per_second", d.messages_per_second),
        send_timeout=_positive(r, "send_timeout", d.send_timeout),
        private_chat_per_second=_positive(r, "private_chat_per_second", d.private_chat_per_second),
        group_per_minute=_positive(r, "group_per_minute", d.group_per_minute),
        new_subscriber_backlog=r.get("new_subscriber_backlog", int, d.new_subscriber_backlog),
        keep_days=r.get("keep_days", int, d.keep_days),
        max_age_seconds=_duration(r, "max_age", "3d") or d.max_age_seconds,
        paid_broadcast=r.get("paid_broadcast", bool, d.paid_broadcast),
        shared_limits=r.get("shared_limits", str, "").strip() or None,
    )
    if result.shared_limits is not None and not result.shared_limits.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        r.fail(f"{r.name('shared_limits')} must be a redis://, rediss:// or unix:// URL")
    if result.new_subscriber_backlog < 0:
        r.fail(f"{r.name('new_subscriber_backlog')} must be 0 or more")
    if result.keep_days < 1:
        r.fail(f"{r.name('keep_days')} must be at least 1")
    r.done()
    return result


def _fetch(r: _Reader) -> FetchConfig:
    d = FetchConfig()
    result = FetchConfig(
        timeout_seconds=_positive(r, "timeout_seconds", d.timeout_seconds),
        max_bytes=int(_positive(r, "max_bytes", d.max_bytes)),
        user_agent=r.get("user_agent", str, d.user_agent),
        allow_private=r.get("allow_private", bool, d.allow_private),
    )
    r.done()
    return result


def _stories(r: _Reader) -> StoriesConfig:
    hours = r.get("window", (int, float), StoriesConfig().window)
    if not 0 < hours <= 24 * 14:
        r.fail(f"{r.name('window')} must be hours, more than 0 and at most 336 (two weeks)")
    r.done()
    return StoriesConfig(float(hours))


def _logging(r: _Reader) -> LoggingConfig:
    level = r.get("level", str, "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        r.fail(f"{r.name('level')} must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    r.done()
    return LoggingConfig(level)


def _metrics(r: _Reader) -> MetricsConfig:
    d = MetricsConfig()
    enabled = r.get("enabled", bool, d.enabled)
    listen = r.get("listen", str, d.listen).strip()
    if not listen:
        r.fail(f"{r.name('listen')} must not be empty")
    port = _port(r, "port", d.port)
    r.done()
    return MetricsConfig(enabled, listen, port)
