"""Command arguments: the pure parsing behind every handler, and the command list itself."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import N_, Text, Translator, language_name
from bot.render.text import strip_invisible
from core.clock import hhmm
from core.matching import key_of, phrase
from core.settings import TopicConfig
from storage.words import MAX_LENGTH

# Each command with its one-line description (a msgid, said in the reader's language): /help
# and setMyCommands read this one list.
PUBLIC_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Welcome and topic picker")),
    ("latest", N_("Newest articles: /latest [topic] [n]")),
    ("related", N_("Articles related to one: /related ID, or reply to an article")),
    ("search", N_("Find articles: /search words")),
    ("topics", N_("All topics, tap to follow")),
    ("subscribe", N_("Follow topics: /subscribe economy russia")),
    ("unsubscribe", N_("Stop following: /unsubscribe economy, or all")),
    ("subscriptions", N_("The topics and words this chat follows or mutes")),
    ("follow", N_('Follow words: /follow inflation "central bank"')),
    ("unfollow", N_("Stop following words: /unfollow inflation, or all")),
    ("mute", N_("Never send articles with these words: /mute crypto")),
    ("unmute", N_("Stop muting words: /unmute crypto, or all")),
    ("settings", N_("Delivery, time zone, quiet hours, language")),
    ("help", N_("Every command")),
)
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("stats", N_("Admin: delivery and store figures")),
    ("feeds", N_("Admin: feeds and their health")),
    ("addfeed", N_("Admin: /addfeed URL [topics]")),
    ("removefeed", N_("Admin: /removefeed ID")),
)

# The bot's profile: shown in an empty chat with the bot (at most 512 characters) and on its
# profile page and in shared links (at most 120).
DESCRIPTION = N_(
    "I bring you a news agency's articles: follow topics or words, and new articles come as"
    " they are published or as one daily digest. /latest, /search and /related read the"
    " archive; /settings sets the time zone, quiet hours and language."
)
SHORT_DESCRIPTION = N_("The news on the topics and words you follow, as it is published.")

LATEST_DEFAULT, LATEST_MAX = 5, 20
MAX_ARGUMENT = 64  # an argument echoed back is cut to this many characters
SQLITE_MAX_INTEGER = 2**63 - 1  # an id beyond it cannot be bound as an SQLite parameter
MAX_OFFSET = 1_000_000  # deepest "More ›" page offset: far past any real paging
RELATED_USAGE = N_("Usage: /related ID (the number shown as #ID), or reply to an article")
LATEST_USAGE = N_("Usage: /latest [topic] [n]")
# ASCII digits only: str.isdigit() also takes "²" or "٣", which int() refuses or reads
# differently; 19 digits hold every int64.
_NUMBER = re.compile(r"[0-9]{1,19}")


class UsageError(ValueError):
    """Arguments a user can fix; the message is what to tell them.

    ``message`` is a msgid (marked with ``N_``) whose ``%(name)s`` placeholders ``params``
    fill: the parser does not know the reader, the handler says it in their language with
    ``text(tr)``; ``str()`` is the English.
    """

    def __init__(self, message: str, **params: object) -> None:
        self.message = Text(message, params)
        super().__init__(str(self.message))

    def text(self, tr: Translator) -> str:
        return self.message.render(tr)


def clip(text: str, limit: int = MAX_ARGUMENT) -> str:
    """User text to echo back: one line without bidi or zero-width tricks, at most ``limit``
    characters."""
    one_line = " ".join(strip_invisible(text).split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def find_topic(word: str, topics: Sequence[TopicConfig]) -> TopicConfig | None:
    """A topic by slug or by name, ignoring case and a leading ``#``."""
    wanted = word.strip().lstrip("#").casefold()
    for topic in topics:
        if wanted in (topic.slug.casefold(), topic.name.casefold()):
            return topic
    return None


def parse_number(text: str, *, low: int = 0, high: int = SQLITE_MAX_INTEGER) -> int | None:
    """``text`` as a whole number from ``low`` to ``high``, or None.

    The one reader of numbers users send (command arguments, callback data): ASCII digits only,
    no sign or spaces, never beyond SQLite's int64.
    """
    if not _NUMBER.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= min(high, SQLITE_MAX_INTEGER) else None


def parse_id(text: str, usage: str) -> int:
    """An id as users write it (``42`` or ``#42``); UsageError(``usage``) for anything else."""
    found = parse_number(text.strip().removeprefix("#"), low=1)
    if found is None:
        raise UsageError(usage)
    return found


def looks_numeric(text: str) -> bool:
    """Meant as a number, even if not one we take (``²``, ``-3``, 30 digits)."""
    return text.lstrip("+-").isdigit()


def resolve_topics(
    words: Sequence[str], topics: Sequence[TopicConfig]
) -> tuple[list[str], list[str]]:
    """Words to topic slugs; also the words that named no topic."""
    found: list[str] = []
    unknown: list[str] = []
    for word in words:
        topic = find_topic(word, topics)
        if topic is None:
            unknown.append(word)
        elif topic.slug not in found:
            found.append(topic.slug)
    return found, unknown


@dataclass(frozen=True, slots=True)
class LatestArgs:
    topic: str | None = None
    count: int = LATEST_DEFAULT


def parse_latest(args: Sequence[str], topics: Sequence[TopicConfig]) -> LatestArgs:
    """``/latest [topic] [n]`` in either order."""
    topic: str | None = None
    count = LATEST_DEFAULT
    if len(args) > 2:
        raise UsageError(LATEST_USAGE)
    for arg in args:
        if looks_numeric(arg):
            number = parse_number(arg, low=1, high=LATEST_MAX)
            if number is None:
                raise UsageError(
                    N_("n must be between 1 and %(max)d. %(usage)s"),
                    max=LATEST_MAX,
                    usage=Text(LATEST_USAGE),
                )
            count = number
            continue
        found = find_topic(arg, topics)
        if found is None or topic is not None:
            raise UnknownTopic(arg)
        topic = found.slug
    return LatestArgs(topic, count)


class UnknownTopic(UsageError):
    def __init__(self, word: str) -> None:
        super().__init__(N_("unknown topic %(word)s"), word=repr(clip(word)))
        self.word = word


def parse_article_id(text: str) -> int:
    return parse_id(text, RELATED_USAGE)


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """Only the fields given change; ``None`` in a field given means "clear it"."""

    values: dict[str, str | None]
    summary: Text


SETTINGS_USAGE = N_(
    "Usage: /settings instant | /settings digest HH:MM | /settings tz Europe/Berlin|off"
    " | /settings quiet 23:00-07:00|off | /settings language en|ru|auto"
)
AUTO_LANGUAGE = "auto"  # the language of each reader's Telegram


def _time_of_day(text: str) -> str:
    try:
        return hhmm(text)
    except ValueError:
        raise UsageError(
            N_("%(text)s is not a time like 08:00. %(usage)s"),
            text=repr(clip(text)),
            usage=Text(SETTINGS_USAGE),
        ) from None


def parse_settings(args: Sequence[str], languages: Sequence[str] = ("en",)) -> SettingsChange:
    """``/settings instant``, ``digest 08:00``, ``tz Europe/Berlin``, ``quiet 23:00-07:00``,
    ``language ru`` (one of ``languages``, or ``auto``)."""
    if not args:
        raise UsageError(SETTINGS_USAGE)
    what, rest = args[0].lower(), list(args[1:])
    if what in ("language", "lang") and len(rest) == 1:
        return language_change(rest[0].lower(), languages)
    if what == "instant" and not rest:
        return SettingsChange(
            {"mode": "instant"}, Text(N_("Articles now come as they are published."))
        )
    if what == "digest" and len(rest) <= 1:
        at = _time_of_day(rest[0]) if rest else "08:00"
        return SettingsChange(
            {"mode": "digest", "digest_time": at},
            Text(N_("Articles now come as one digest at %(time)s."), {"time": at}),
        )
    if what in ("tz", "timezone", "zone") and len(rest) == 1:
        name = rest[0]
        if name.lower() in ("off", "publisher", "none"):
            return SettingsChange(
                {"timezone": None}, Text(N_("Datelines now show the publisher's own time zone."))
            )
        return SettingsChange(
            {"timezone": check_zone(name)},
            Text(N_("Datelines now show %(zone)s."), {"zone": name}),
        )
    if what == "quiet" and len(rest) == 1:
        if rest[0].lower() in ("off", "none"):
            return SettingsChange(
                {"quiet_start": None, "quiet_end": None}, Text(N_("Quiet hours are off."))
            )
        parts = rest[0].split("-")
        if len(parts) != 2:
            raise UsageError(
                N_("%(text)s is not a window like 23:00-07:00"), text=repr(clip(rest[0]))
            )
        start, end = _time_of_day(parts[0]), _time_of_day(parts[1])
        if start == end:
            raise UsageError(N_("Quiet hours need a start and an end that differ"))
        return SettingsChange(
            {"quiet_start": start, "quiet_end": end},
            Text(
                N_("Quiet hours: nothing is sent from %(start)s to %(end)s; it waits until then."),
                {"start": start, "end": end},
            ),
        )
    raise UsageError(SETTINGS_USAGE)


def language_change(code: str, languages: Sequence[str]) -> SettingsChange:
    """Speak ``code`` in this chat, or each reader's own language for ``auto``."""
    if code == AUTO_LANGUAGE:
        return SettingsChange(
            {"language": None}, Text(N_("Language: each reader's own, as set in Telegram."))
        )
    if code not in languages:
        raise UsageError(
            N_("%(code)s is not a language I speak; I speak %(known)s."),
            code=repr(clip(code, 16)),
            known=", ".join([*languages, AUTO_LANGUAGE]),
        )
    return SettingsChange(
        {"language": code}, Text(N_("Language: %(language)s."), {"language": language_name(code)})
    )


def check_zone(name: str) -> str:
    if len(name) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name):
        raise UsageError(
            N_("%(name)s is not a time zone name like Europe/Berlin"), name=repr(clip(name))
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            N_("%(name)s is not a time zone name like Europe/Berlin"), name=repr(clip(name))
        ) from None
    return name


# Straight and typographic quotes: phones turn " into “ or « as it is typed.
_QUOTES = frozenset('"“”„«»')
_WORD_EXAMPLES = {  # commands and search words stay as typed in every language
    "follow": '/follow inflation "central bank"',
    "unfollow": '/unfollow inflation "central bank", or /unfollow all',
    "mute": '/mute crypto "transfer window"',
    "unmute": "/unmute crypto, or /unmute all",
}


def split_words(text: str) -> list[str]:
    """Words and "quoted phrases" as a user typed them, separated by spaces or commas."""
    text = strip_invisible(text)
    found: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace() or char == ",":
            i += 1
            continue
        if char in _QUOTES:
            end = next((j for j in range(i + 1, n) if text[j] in _QUOTES), n)
            found.append(text[i + 1 : end])
            i = end + 1
            continue
        end = i
        while end < n and not text[end].isspace() and text[end] != "," and text[end] not in _QUOTES:
            end += 1
        found.append(text[i:end])
        i = end
    return [" ".join(word.split()) for word in found if word.strip()]


def parse_words(text: str, command: str) -> list[str]:
    """The normalised words of ``/follow``, ``/unfollow``, ``/mute`` or ``/unmute``.

    Literal text only, never patterns. UsageError (one line with an example) for none, one over
    MAX_LENGTH characters, or one without a letter or digit to match.
    """
    example = _WORD_EXAMPLES.get(command, _WORD_EXAMPLES["follow"])
    words = split_words(text)
    if not words:
        raise UsageError(N_("Name the words, for example: %(example)s"), example=example)
    normalised = []
    for word in words:
        folded = phrase(word)
        if len(folded) > MAX_LENGTH:
            raise UsageError(
                N_(
                    "%(word)s is %(length)d characters; a word or phrase may have %(max)d."
                    " For example: %(example)s"
                ),
                word=repr(clip(word, 24)),
                length=len(folded),
                max=MAX_LENGTH,
                example=example,
            )
        if key_of(folded) is None:
            raise UsageError(
                N_("%(word)s has no letter or digit to match. For example: %(example)s"),
                word=repr(clip(word)),
                example=example,
            )
        normalised.append(folded)
    return list(dict.fromkeys(normalised))
