"""Frozen records that cross the storage boundary.

Datetimes are always aware. ``published_at`` keeps the publisher's own UTC offset (the store
keeps the instant in UTC and the offset beside it), so ``9 June 2018 12:34 (UTC+04:00)`` comes
back exactly as the publisher showed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RelatedEntry:
    """One headline of the publisher's own "Related news" box."""

    title: str
    category: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article as an importer produced it, before the store gave it an id.

    ``given`` names the fields the source actually held (``None``: all of them, as feeds and
    agency files give everything they have). Storing over an existing article changes only the
    given fields, so a JSON record without ``body`` leaves the stored body as it is, while
    ``"body": ""`` empties it. A ``published_at`` of ``None`` always means "no date given".
    ``created_at`` and ``updated_at`` come from newsbot's own exports and count only when the
    article is new to the store.
    """

    title: str
    url: str | None = None
    guid: str | None = None
    summary: str = ""
    body: str = ""
    published_at: datetime | None = None
    publisher: str | None = None
    attribution: str | None = None
    category: str | None = None
    language: str | None = None
    image_url: str | None = None
    related: tuple[RelatedEntry, ...] = ()
    topics: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    given: frozenset[str] | None = None

    def has(self, name: str) -> bool:
        """Whether the source gave the field ``name`` (present, possibly empty)."""
        return self.given is None or name in self.given

    @property
    def key(self) -> str:
        """The identity used for dedup: the guid if the source gave one, else the url."""
        key = self.guid or self.url
        if not key:
            raise ValueError("an article needs a url or a guid")
        return key


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article.

    Every report of one event from one or more publishers within the stories window shares
    ``story`` (see ``storage.stories``).
    """

    id: int
    title: str
    url: str | None
    guid: str | None
    summary: str
    body: str
    published_at: datetime
    publisher: str | None
    attribution: str | None
    category: str | None
    language: str | None
    image_url: str | None
    topics: tuple[str, ...]
    created_at: datetime
    updated_at: datetime | None
    related: tuple[RelatedEntry, ...] = field(default=())
    # The story this article reports: the id of the story's first stored report, so an article
    # that joined no story has its own id (0 only for an Article built outside the store).
    story: int = 0

    @property
    def was_updated(self) -> bool:
        return self.updated_at is not None


@dataclass(frozen=True, slots=True)
class Topic:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    """What storing one article did: ``inserted``, ``updated`` or ``duplicate``."""

    article_id: int
    status: str
