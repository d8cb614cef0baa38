"""Every setting newsbot reads, as frozen dataclasses: the bottom layer, standard library only.

``bot/config.py`` reads and validates the TOML file into these; everything else (ingest, the
bot, the CLI) takes them as arguments. Nothing here imports a third-party package or another
newsbot package, so the pure parts (the topic tagger, the feed parser) can be used alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"


class ConfigError(ValueError):
    """A config problem the user can fix; the message is the one line to show."""


@dataclass(frozen=True, slots=True)
class TopicConfig:
    slug: str
    name: str
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedConfig:
    url: str
    topics: tuple[str, ...] = ()
    every_seconds: int = 600


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A window that may wrap midnight; both ends ``"HH:MM"`` text, as the store keeps them."""

    start: str
    end: str


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    chat: str | int
    topics: tuple[str, ...]
    mode: str = "instant"  # "instant" or "every"
    every_seconds: int | None = None
    max_per_hour: int | None = None
    quiet_hours: QuietHours | None = None
    thread: int | None = None  # a forum group's topic thread (message_thread_id) to post into


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """``[telegram.webhook]``: where Telegram calls, and where the bot listens behind the proxy."""

    url: str  # the public https:// URL given to Telegram
    secret_token: str
    listen: str = "127.0.0.1"
    port: int = 8443
    path: str = "/telegram"


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """``[metrics]``: the optional listener for ``/metrics`` and ``/healthz``."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = 9464


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    token: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    admins: tuple[int, ...] = ()
    webhook: WebhookConfig | None = None  # [telegram.webhook]; None: long polling


POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")
# The password of a connection URL: user:PASSWORD@ in the authority, or password=... in the query.
_URL_PASSWORD = re.compile(r"(?<=://)([^/@:]*):[^/@]*@|(?<=[?&]password=)[^&]*")


def masked_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, fit for logs and messages."""
    return _URL_PASSWORD.sub(
        lambda m: f"{m.group(1)}:***@" if m.group(1) is not None else "***", url
    )


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """The SQLite file at ``path``, or the PostgreSQL database at ``url`` when one is given."""

    path: str = "newsbot.db"
    url: str | None = None
    # Where a PostgreSQL store's meaning index is kept between starts (an SQLite store keeps it
    # beside its file); None: the user's cache folder. Rebuilding it at a start costs ~2 min
    # at 1,000,000 articles, loading the saved file about a second (docs/benchmarks.md).
    index_dir: str | None = None

    @property
    def target(self) -> str:
        """What ``Store.open`` takes: the URL, else the file."""
        return self.url or self.path

    @property
    def where(self) -> str:
        """The store as messages name it: the file, or the URL with its password masked."""
        return masked_url(self.url) if self.url else self.path


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    messages_per_second: float = 30.0
    private_chat_per_second: float = 1.0
    group_per_minute: float = 20.0
    new_subscriber_backlog: int = 0
    keep_days: int = 30
    max_age_seconds: int = 3 * 86400
    # Seconds to wait for Telegram's answer to a request. Telegram answers sendMessage within
    # a second as a rule; a send whose answer never comes may still have arrived, so it is
    # sent again at most once. Long enough for slow days (3x the 5 s seen under load), short
    # enough that a clean stop, which lets sends in flight finish, fits in 30 s.
    send_timeout: float = 15.0
    # Telegram's paid tier: bulk sends carry allow_paid_broadcast and may go at up to
    # PAID_PER_SECOND overall, for a fee in Stars per message. Off unless the publisher opts in.
    paid_broadcast: bool = False
    # A Redis server (redis://host:port/db) where every instance counts Telegram's limits
    # together: for webhook mode, where every instance sends its replies (bot/shared_limits.py).
    shared_limits: str | None = None


PAID_PER_SECOND = 1000.0  # the Bot API's ceiling for messages sent with allow_paid_broadcast


@dataclass(frozen=True, slots=True)
class FetchConfig:
    timeout_seconds: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    user_agent: str = "newsbot/0.1 (+https://github.com/newsbot)"
    # Loopback, private, link-local and other non-public addresses are refused unless this is
    # set (a feed server on the same machine or network); see ingest/guard.py.
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class StoriesConfig:
    # Hours: reports published further apart than this are never one story. A day and a half
    # covers a story's follow-ups across time zones.
    window: float = 36.0


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class Config:
    path: str | None = None
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    topics: tuple[TopicConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    channels: tuple[ChannelConfig, ...] = ()
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    stories: StoriesConfig = field(default_factory=StoriesConfig)

    def topic(self, slug: str) -> TopicConfig | None:
        return next((t for t in self.topics if t.slug == slug), None)
