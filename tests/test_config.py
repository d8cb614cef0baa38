"""Config: every mistake is one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.bootstrap import index_dir
from bot.config import load_config, parse_clock_range, parse_duration
from core.settings import DEFAULT_API_BASE_URL, ConfigError, QuietHours

GOOD = """
[telegram]
token = "123:abc"
api_base_url = "http://127.0.0.1:8081/bot"
admins = [42, 43]

[storage]
path = "news.db"

[topics.economy]
name = "Economy"
categories = ["Economy news"]
keywords = ["central bank", "inflation"]

[topics.russia]
name = "Russia"
categories = ["Russia"]

[[feeds]]
url = "https://example.org/rss"
topics = ["economy"]
every = "15m"

[[channels]]
chat = "@agency_economy"
topics = ["economy"]
every = "15m"
max_per_hour = 4
quiet_hours = "23:00-07:00"

[[channels]]
chat = -1001234567890
topics = ["russia"]
mode = "instant"
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_full_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={})
    assert config.telegram.token == "123:abc"
    assert config.telegram.api_base_url == "http://127.0.0.1:8081/bot"
    assert config.telegram.admins == (42, 43)
    assert config.storage.path == "news.db"
    assert [t.slug for t in config.topics] == ["economy", "russia"]
    assert config.topics[0].categories == ("Economy news",)
    assert config.feeds[0].every_seconds == 900
    first, second = config.channels
    assert first.chat == "@agency_economy"
    assert first.every_seconds == 900
    assert first.max_per_hour == 4
    assert first.quiet_hours is not None
    assert first.quiet_hours.start == "23:00"
    assert second.chat == -1001234567890
    assert second.mode == "instant"
    assert not config.delivery.paid_broadcast  # Telegram charges for it: only when asked


def test_paid_broadcast_is_asked_for_in_delivery(tmp_path: Path) -> None:
    text = GOOD + "\n[delivery]\npaid_broadcast = true\n"
    config = load_config(write(tmp_path, text), environ={})
    assert config.delivery.paid_broadcast


def test_shared_limits_name_a_redis_server(tmp_path: Path) -> None:
    text = GOOD + "\n[delivery]\nshared_limits = 'redis://127.0.0.1:6379/0'\n"
    config = load_config(write(tmp_path, text), environ={})
    assert config.delivery.shared_limits == "redis://127.0.0.1:6379/0"
    assert load_config(write(tmp_path, GOOD), environ={}).delivery.shared_limits is None


def test_the_token_comes_from_the_environment_first(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={"NEWSBOT_TOKEN": "999:env"})
    assert config.telegram.token == "999:env"


def test_the_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    assert load_config(None, environ={"NEWSBOT_CONFIG": path}).storage.path == "news.db"


def test_missing_default_config_means_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, environ={})
    assert config.telegram.api_base_url == DEFAULT_API_BASE_URL
    assert config.storage.path == "newsbot.db"
    assert config.topics == ()


def test_a_named_config_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such config file"):
        load_config(str(tmp_path / "nope.toml"), environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[telegram]\ntokn = 'x'\n", r"config\.toml: unknown key \[telegram\]\.tokn"),
        ("colour = 1\n", r"unknown key colour"),
        (
            "[telegram]\nadmins = ['me']\n",
            r"\[telegram\]\.admins must be a list of Telegram user ids",
        ),
        ("[telegram]\ntoken = 5\n", r"\[telegram\]\.token must be a string, not int"),
        ("[storage]\npath = true\n", r"\[storage\]\.path must be a string, not bool"),
        ("[topics.economy]\ncategories = []\n", r"\[topics\.economy\]\.name is required"),
        ("[topics.Economy]\nname = 'E'\n", r"\[topics\.Economy\]: a topic slug is"),
        ("[topics.e]\nname = 'E'\nkeywords = 'oil'\n", r"\[topics\.e\]\.keywords must be a list"),
        ("[[feeds]]\ntopics = []\n", r"\[\[feeds\]\] #1\.url is required"),
        ("[[feeds]]\nurl = 'ftp://x'\n", r"\[\[feeds\]\] #1\.url must be an http"),
        (
            "[[feeds]]\nurl = 'http://x'\nevery = 'soon'\n",
            r"\[\[feeds\]\] #1\.every: 'soon' is not a duration",
        ),
        ("[[feeds]]\nurl = 'http://x'\ntopics = ['nope']\n", r"names unknown topic 'nope'"),
        ("[[channels]]\nchat = '@chan_name'\ntopics = []\n", r"\[\[channels\]\] #1\.every or"),
        (
            "[[channels]]\nchat = 'chan'\ntopics = []\nevery = '1h'\n",
            r"\.chat must be @channelname",
        ),
        (
            "[[channels]]\nchat = '@chan_name'\nevery = '1h'\n",
            r"\[\[channels\]\] #1\.topics is required",
        ),
        (
            "[[channels]]\nchat = '@chan_name'\ntopics = []\nevery = '1h'\n"
            "quiet_hours = '25:00-01:00'\n",
            r"quiet_hours: '25:00-01:00' is not a range",
        ),
        ("[logging]\nlevel = 'LOUD'\n", r"\[logging\]\.level must be one of"),
        (
            "[delivery]\npaid_broadcast = 'yes'\n",
            r"\[delivery\]\.paid_broadcast must be true or false, not str",
        ),
        (
            "[delivery]\nshared_limits = '127.0.0.1:6379'\n",
            r"\[delivery\]\.shared_limits must be a redis://, rediss:// or unix:// URL",
        ),
        ("[telegram\n", r"config\.toml: not valid TOML"),
    ],
)
def test_mistakes_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path, environ={})
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(path)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h30m", 5400), ("2d", 172800), (" 15M ", 900)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "m", "10x", "1h 30", "-5m", "0s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_quiet_hours_may_wrap_midnight() -> None:
    assert parse_clock_range("23:30-06:15") == QuietHours("23:30", "06:15")


def test_the_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    config = load_config(str(example), environ={})
    assert config.topics
    assert config.telegram.token is None


PG_URL = "postgresql://newsbot:hunter2@127.0.0.1:5432/news"


def test_a_database_url_selects_postgresql(tmp_path: Path) -> None:
    text = GOOD.replace('path = "news.db"', f'url = "{PG_URL}"')
    config = load_config(write(tmp_path, text), environ={})
    assert config.storage.url == PG_URL
    assert config.storage.target == PG_URL
    assert config.storage.where == "postgresql://newsbot:***@127.0.0.1:5432/news"


def test_the_database_url_comes_from_the_environment_first(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), environ={"NEWSBOT_DATABASE_URL": PG_URL})
    assert config.storage.target == PG_URL
    defaults = load_config(None, environ={"NEWSBOT_DATABASE_URL": PG_URL})
    assert defaults.storage.target == PG_URL


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        (
            f'path = "news.db"\nurl = "{PG_URL}"',
            r"\[storage\]\.url and \[storage\]\.path name two stores; keep one",
        ),
        (
            'url = "mysql://root:pw@db/news"',
            r"\[storage\]\.url must be a PostgreSQL URL.*\(got mysql://root:\*\*\*@db/news\)",
        ),
    ],
)
def test_a_bad_storage_table_is_one_line(tmp_path: Path, storage: str, message: str) -> None:
    text = GOOD.replace('path = "news.db"', storage)
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(write(tmp_path, text), environ={})
    assert "\n" not in str(raised.value)
    assert "pw@" not in str(raised.value)


def test_a_bad_database_url_in_the_environment_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NEWSBOT_DATABASE_URL must be a PostgreSQL URL"):
        load_config(write(tmp_path, GOOD), environ={"NEWSBOT_DATABASE_URL": "news.db"})


def test_a_postgresql_stores_index_folder_is_the_configured_one_else_the_cache_folder(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[storage]\nurl = "postgresql://newsbot@127.0.0.1/news"\nindex_dir = "/var/cache/nb"\n',
        encoding="utf-8",
    )
    configured = load_config(str(path), {})
    assert index_dir(configured) == Path("/var/cache/nb")

    path.write_text('[storage]\nurl = "postgresql://newsbot@127.0.0.1/news"\n', encoding="utf-8")
    default = load_config(str(path), {})
    assert index_dir(default, {"XDG_CACHE_HOME": "/srv/cache"}) == Path("/srv/cache/newsbot")
    # A relative XDG_CACHE_HOME is invalid by the XDG rule: the home folder's .cache instead.
    assert index_dir(default, {"XDG_CACHE_HOME": "cache"}) == Path.home() / ".cache/newsbot"
    assert index_dir(default, {}) == Path.home() / ".cache/newsbot"
