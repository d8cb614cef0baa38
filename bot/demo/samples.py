"""The demo's news: the bundled sample articles, their categories, the topics and the config.

The archive (the seed first, so it is article #1) is stored when the demo starts; the
``arrive_*`` articles are published one by one later, each stamped with the time it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from core.settings import Config, DeliveryConfig, StorageConfig, TelegramConfig, TopicConfig
from ingest.agency import parse_agency
from storage import NewArticle

__all__ = [
    "CATEGORIES",
    "DEMO_TOPICS",
    "PICTURES",
    "SEED",
    "Samples",
    "article_texts",
    "demo_config",
    "load_samples",
    "restamp",
]

SEED = "azernews_putin_tajikistan.txt"
ARRIVING_PREFIX = "arrive_"

DEMO_TOPICS: tuple[TopicConfig, ...] = (
    TopicConfig(
        "economy",
        "Economy",
        ("Economy news", "Business"),
        ("inflation", "central bank", "exports", "GDP", "card payments"),
    ),
    TopicConfig(
        "politics", "Politics", ("Politics",), ("referendum", "parliament", "coalition", "ballot")
    ),
    TopicConfig(
        "energy",
        "Energy",
        ("Energy", "Oil & Gas"),
        ("solar", "wind farm", "pipeline", "oil field", "power station"),
    ),
    TopicConfig(
        "technology",
        "Technology",
        ("Technology", "ICT"),
        ("startup", "robot", "5G", "software", "satellite"),
    ),
    TopicConfig(
        "sport", "Sport", ("Sport",), ("football", "cricket", "marathon", "regatta", "championship")
    ),
    TopicConfig("russia", "Russia", ("Russia",), ("Kremlin", "Moscow", "Putin")),
    TopicConfig(
        "central-asia",
        "Central Asia",
        ("Central Asia", "Tajikistan", "Uzbekistan", "Kazakhstan"),
        ("Tajikistan", "Uzbekistan", "Kazakhstan", "Kyrgyzstan", "Turkmenistan"),
    ),
)

# The publisher's category of each sample, as its site shows it above the article. The saved
# text does not carry it (the agency importer leaves ``category`` empty), so the demo adds it,
# as a JSON export would: it shows in lists and matches the topics' categories.
CATEGORIES: dict[str, str] = {
    SEED: "Russia",
    "atlantic_ledger_marathon.txt": "Sport",
    "atlantic_ledger_tunnel_referendum.txt": "Politics",
    "caspian_courier_growth_forecast.txt": "Economy news",
    "caspian_courier_solar_park.txt": "Energy",
    "deccan_morning_5g_kit.txt": "ICT",
    "deccan_morning_cricket_final.txt": "Sport",
    "lakeshore_tribune_freight_index.txt": "Business",
    "lakeshore_tribune_wind_deal.txt": "Energy",
    "northern_dispatch_volga_cruises.txt": "Russia",
    "pacific_morning_voting_age.txt": "Politics",
    "pacific_morning_warehouse_robot.txt": "Technology",
    "silk_road_review_rail_link.txt": "Central Asia",
    "arrive_1_card_payments.txt": "Economy news",
    "arrive_2_robotics_office.txt": "Technology",
    "arrive_3_regatta.txt": "Sport",
    "arrive_4_battery_storage.txt": "Energy",
}


# The picture a publisher put on some samples, as a feed's media:content would carry it (the
# saved text has none). The double does not fetch it; the demo prints it as [picture: URL].
PICTURES: dict[str, str] = {
    "caspian_courier_solar_park.txt": "https://caspian-courier.example/img/solar-park.jpg",
    "pacific_morning_warehouse_robot.txt": "https://pacific-morning.example/img/tomo-robot.jpg",
    "arrive_1_card_payments.txt": "https://caspian-courier.example/img/card-terminal.jpg",
    "arrive_2_robotics_office.txt": "https://pacific-morning.example/img/rotterdam-office.jpg",
}


def article_texts() -> list[tuple[str, str]]:
    """``(file name, text)`` of every bundled article, by name (read as package data)."""
    folder = resources.files("bot.demo").joinpath("articles")
    found = [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".txt") and entry.is_file()
    ]
    return sorted(found)


@dataclass(frozen=True, slots=True)
class Samples:
    """The archive loaded at start (the seed first, so it is article #1) and the articles that
    arrive later, in order."""

    archive: tuple[NewArticle, ...]
    arriving: tuple[NewArticle, ...]


def load_samples() -> Samples:
    archive: list[NewArticle] = []
    arriving: list[NewArticle] = []
    for name, text in article_texts():
        article = parse_agency(text, source=f"bot/demo/articles/{name}")
        article = replace(article, category=CATEGORIES.get(name), image_url=PICTURES.get(name))
        if name.startswith(ARRIVING_PREFIX):
            arriving.append(article)
        elif name == SEED:
            archive.insert(0, article)
        else:
            archive.append(article)
    return Samples(tuple(archive), tuple(arriving))


def demo_config(api_base_url: str, token: str, store_path: Path) -> Config:
    """The bot's config for the demo: the double as Telegram, a temporary store, demo topics."""
    return Config(
        path=None,
        telegram=TelegramConfig(token=token, api_base_url=api_base_url),
        storage=StorageConfig(str(store_path)),
        topics=DEMO_TOPICS,
        # One reader who types and taps quickly: the bot answers at once instead of keeping
        # Telegram's one-message-a-second pace per private chat (the double does not enforce
        # it), so an answer never lands after the demo has stopped looking for it.
        delivery=DeliveryConfig(private_chat_per_second=30.0),
    )


def restamp(article: NewArticle, now: datetime, number: int) -> NewArticle:
    """The article as if published ``now`` (in its own zone), with a guid of its own.

    Its related box moves by the same amount, so "13:29" stays "a few hours earlier".
    """
    original = article.published_at or now
    zone = original.tzinfo or UTC
    when = now.astimezone(zone).replace(microsecond=0)
    shift = when - original
    related = tuple(
        replace(entry, published_at=entry.published_at + shift)
        if entry.published_at is not None
        else entry
        for entry in article.related
    )
    return replace(
        article, published_at=when, guid=f"demo-arrival:{number}", url=None, related=related
    )
