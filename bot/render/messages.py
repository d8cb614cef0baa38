"""Everything the bot sends: Telegram HTML text plus inline keyboards. Pure, no I/O.

Each variable piece of publisher text is cleaned and cut as plain text, then escaped and wrapped
in tags by ``bot.render.text``; the fixed words are ours. That keeps every message parseable and
within Telegram's 4096 UTF-16 units whatever the publisher sent.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import ENGLISH, N_, Translator
from bot.render.dates import format_dateline
from bot.render.text import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    Span,
    bold,
    bold_link,
    clean_block,
    clean_line,
    code,
    escape,
    excerpt,
    fit_html,
    fit_plain,
    http_url,
    italic,
    link,
    markup,
    plain,
    spans_len,
    truncate,
    utf16_len,
    visible_len,
)
from core.settings import TopicConfig
from storage.chats import LostThread
from storage.models import Article, RelatedEntry, Topic

CALLBACK_LIMIT = 64  # bytes of UTF-8: Telegram refuses longer callback_data
TITLE_LIMIT = 300
LIST_TITLE_LIMIT = 200
HEADER_LIMIT = 256
LABEL_LIMIT = 64  # a category, an attribution, a publisher
BUTTON_NAME_LIMIT = 40
PLAIN_URL_LIMIT = 512
MAX_HASHTAGS = 10
HASHTAG_LIMIT = 64
# 50 entries and their number buttons stay well under Telegram's 100 buttons per keyboard.
MAX_LIST = 50
RELATED_LIMIT = 5
BUTTONS_PER_ROW = 5
TOGGLES_PER_ROW = 2
UNTITLED = N_("(untitled)")
NO_RELATED = N_("No related articles yet.")
NOTHING_LISTED = N_("Nothing here yet.")

_ACTION = re.compile(r"[a-z][a-z0-9_]{0,15}")
_ID = re.compile(r"[0-9]{1,19}")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# The actions this module puts on buttons, with the one argument each takes; other actions
# (the handlers' own, such as a page callback) are only checked for shape.
_ARGUMENT = {"rel": _ID, "art": _ID, "sub": _SLUG, "tog": _SLUG, "wrd": _ID}
_QUOTED = re.compile(r"%(25|3A)")
_BAD_QUOTE = re.compile(r"%(?!25|3A)")

TopicLike = TopicConfig | Topic | tuple[str, str]


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready for ``send_message``; ``parse_mode`` is ``None`` for the plain fallback.

    An article with a picture sets one of ``photo`` (send it with ``sendPhoto``, the text as
    its caption) or ``large_preview`` (a text message showing that picture as its large link
    preview above the text: the text is too long for a caption).
    """

    text: str
    reply_markup: InlineKeyboardMarkup | None
    disable_preview: bool
    parse_mode: str | None = "HTML"
    photo: str | None = None
    large_preview: str | None = None

    @property
    def picture(self) -> str | None:
        return self.photo or self.large_preview

    def without_picture(self) -> RenderedMessage:
        """The same text as a plain text message, for when Telegram cannot fetch the picture."""
        return replace(self, photo=None, large_preview=None)


# -- callback data ---------------------------------------------------------------------------


def callback(*parts: str | int) -> str:
    """``action:arg:...`` for a button, at most 64 bytes; ``:`` and ``%`` in args are quoted."""
    if not parts:
        raise ValueError("callback data needs an action")
    action, *args = (str(part) for part in parts)
    data = ":".join([action, *(a.replace("%", "%25").replace(":", "%3A") for a in args)])
    parse_callback(data)  # one set of rules for what we emit and what we accept
    return data


def parse_callback(data: str | None) -> tuple[str, list[str]]:
    """The inverse of ``callback``; ValueError for anything it could not have made."""
    if not data:
        raise ValueError("empty callback data")
    try:
        size = len(data.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError("callback data is not valid text") from exc
    if size > CALLBACK_LIMIT:
        raise ValueError(f"callback data is {size} bytes, over Telegram's {CALLBACK_LIMIT}")
    action, *raw = data.split(":")
    if not _ACTION.fullmatch(action):
        raise ValueError(f"bad callback action {action!r}")
    if any(_BAD_QUOTE.search(arg) for arg in raw):
        raise ValueError(f"bad quoting in callback data {data!r}")
    args = [_QUOTED.sub(lambda m: "%" if m.group(1) == "25" else ":", arg) for arg in raw]
    pattern = _ARGUMENT.get(action)
    if pattern is not None and (len(args) != 1 or not pattern.fullmatch(args[0])):
        raise ValueError(f"bad arguments for {action!r}: {args!r}")
    return action, args


def button_pressed(data: str | None) -> tuple[str, list[str]]:
    """A pressed button's action and arguments; ``("", [])`` for data we could not have
    made (forged, damaged, or from an older version), which every handler answers as expired."""
    try:
        return parse_callback(data)
    except ValueError:
        return "", []


# -- small pieces ------------------------------------------------------------------------------


def hashtag(slug: str) -> str | None:
    """``#economy``, ``#central_asia`` from ``central-asia``; None when Telegram would not link it.

    A Telegram hashtag is letters, digits and ``_`` with at least one letter.
    """
    body = re.sub(r"\W", "", slug.replace("-", "_"))[:HASHTAG_LIMIT]
    if not any(ch.isalpha() for ch in body):
        return None
    return f"#{body}"


def _hashtags(slugs: Sequence[str]) -> str:
    tags: list[str] = []
    for slug in slugs:
        tag = hashtag(slug)
        if tag and tag not in tags:
            tags.append(tag)
    return " ".join(tags[:MAX_HASHTAGS])


def _label(text: str | None, limit: int = LABEL_LIMIT) -> str:
    return truncate(clean_line(text), limit)


def _title(text: str, limit: int, tr: Translator) -> str:
    return truncate(clean_line(text) or tr.gettext(UNTITLED), limit)


def _dateline(moment: datetime, tz: tzinfo | None, tr: Translator) -> str:
    if tz is not None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(tz)
    return format_dateline(moment, tr.locale)


def _source(article: Article, tr: Translator) -> str:
    """``TASS via Azernews``, ``Azernews``, ``TASS`` or nothing."""
    attribution, publisher = _label(article.attribution), _label(article.publisher)
    if attribution and publisher and attribution.casefold() != publisher.casefold():
        return tr.gettext("%(attribution)s via %(publisher)s") % {
            "attribution": attribution,
            "publisher": publisher,
        }
    return attribution or publisher


def _topic_pair(topic: TopicLike) -> tuple[str, str]:
    if isinstance(topic, tuple):
        return topic
    return topic.slug, topic.name


def _button_name(name: str, fallback: str) -> str:
    return truncate(clean_line(name) or fallback, BUTTON_NAME_LIMIT)


def _numbered_rows(datas: Sequence[str], start: int = 1) -> list[list[InlineKeyboardButton]]:
    buttons = [
        InlineKeyboardButton(str(n), callback_data=data) for n, data in enumerate(datas, start)
    ]
    return [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]


def _pack(
    head: list[Span], entries: Sequence[list[Span]], limit: int = MESSAGE_LIMIT
) -> tuple[list[Span], int]:
    """``head`` and as many whole entries as fit, dropping from the end; and how many fit."""
    spans = list(head)
    total = spans_len(spans)
    count = 0
    for entry in entries:
        size = spans_len(entry)
        if total + size > limit:
            break
        spans += entry
        total += size
        count += 1
    return spans, count


# -- one article -------------------------------------------------------------------------------


def _article_spans(
    article: Article,
    *,
    tz: tzinfo | None,
    body_chars: int,
    url_line: bool,
    tr: Translator,
) -> list[Span]:
    title = _title(article.title, TITLE_LIMIT, tr)
    spans = [bold_link(title, article.url)]
    url = http_url(article.url)
    if url_line and url and utf16_len(url) <= PLAIN_URL_LIMIT:
        # Without markup the link is lost; a bare URL is still made clickable by Telegram.
        spans.append(plain(f"\n{url}"))
    meta = _dateline(article.published_at, tz, tr)
    category = _label(article.category)
    if category:
        meta += f" · {category}"
    spans.append(plain(f"\n{meta}"))
    body = clean_block(article.body) or clean_block(article.summary)
    if body and body_chars > 0:
        spans += [plain("\n\n"), plain(excerpt(body, min(body_chars, MESSAGE_LIMIT)), cut=1)]
    source = _source(article, tr)
    if source:
        spans += [plain("\n\n"), italic(source)]
    tags = _hashtags(article.topics)
    if tags:
        spans.append(plain(("\n" if source else "\n\n") + tags))
    return spans


def caption_fits(text: str, parse_mode: str | None = "HTML") -> bool:
    """Whether ``text`` fits a photo's caption: 1,024 UTF-16 units after entity parsing."""
    size = visible_len(text) if parse_mode == "HTML" else utf16_len(text)
    return size <= CAPTION_LIMIT


def with_picture(rendered: RenderedMessage, image_url: str | None) -> RenderedMessage:
    """``rendered`` showing the article's picture: as a photo with the text as its caption when
    the text fits one, otherwise as the large preview above the text. Unchanged without a
    usable (http) picture URL."""
    picture = http_url(image_url)
    if picture is None:
        return rendered
    if caption_fits(rendered.text, rendered.parse_mode):
        return replace(rendered, photo=picture, large_preview=None)
    return replace(rendered, photo=None, large_preview=picture, disable_preview=False)


def _article_keyboard(
    article: Article, topics: Mapping[str, str], tr: Translator
) -> InlineKeyboardMarkup:
    row = [InlineKeyboardButton(tr.gettext("Related"), callback_data=callback("rel", article.id))]
    if article.topics:
        slug = article.topics[0]
        try:
            data = callback("sub", slug)
        except ValueError:
            data = None  # a slug the config would refuse: no button rather than no message
        if data is not None:
            name = _button_name(topics.get(slug, ""), slug)
            label = tr.gettext("Subscribe to %(topic)s") % {"topic": name}
            row.append(InlineKeyboardButton(label, callback_data=data))
    return InlineKeyboardMarkup([row])


def render_article(
    article: Article,
    *,
    topics: Mapping[str, str],
    tz: tzinfo | None = None,
    body_chars: int = 600,
    tr: Translator = ENGLISH,
) -> RenderedMessage:
    """One article: linked bold title, dateline and category, the opening, source, hashtags.

    ``topics`` maps slug to display name; ``tz`` shows the dateline in the reader's zone
    instead of the publisher's; ``body_chars`` is the opening's length in UTF-16 units; ``tr``
    is the reader's language (our words and the dateline's month; the article's text stays as
    published).
    """
    spans = _article_spans(article, tz=tz, body_chars=body_chars, url_line=False, tr=tr)
    rendered = RenderedMessage(
        text=fit_html(spans),
        reply_markup=_article_keyboard(article, topics, tr),
        disable_preview=http_url(article.url) is None,
    )
    return with_picture(rendered, article.image_url)


def render_story_article(
    article: Article,
    others: Sequence[Article],
    *,
    topics: Mapping[str, str],
    tz: tzinfo | None = None,
    body_chars: int = 600,
    tr: Translator = ENGLISH,
    caption: bool = False,
) -> RenderedMessage:
    """``render_article`` for a story's first report, ending "Also reported by: Trend, Caspian
    Wire" with the story's later reports ``others`` (each publisher once, linked to its
    article). The opening gives way first when it all does not fit one message.

    It edits the message the chat already has: ``caption`` when that was a photo (the text is
    its caption, so it must fit 1,024 units), otherwise a text, which keeps the picture as its
    large preview (a text message cannot become a photo).
    """
    spans = _article_spans(article, tz=tz, body_chars=body_chars, url_line=False, tr=tr)
    spans += also_reported_spans(others, exclude=article, tr=tr)
    picture = http_url(article.image_url)
    keyboard = _article_keyboard(article, topics, tr)
    if caption:
        return RenderedMessage(
            fit_html(spans, CAPTION_LIMIT), keyboard, disable_preview=True, photo=picture
        )
    return RenderedMessage(
        text=fit_html(spans),
        reply_markup=keyboard,
        disable_preview=picture is None and http_url(article.url) is None,
        large_preview=picture,
    )


def publisher_name(article: Article, tr: Translator = ENGLISH) -> str:
    """Who published a report: the publisher, its attribution, or the site's host name."""
    name = _label(article.publisher) or _label(article.attribution)
    if name:
        return name
    url = http_url(article.url)
    host = urlsplit(url).hostname if url else None
    return _label(host.removeprefix("www.")) if host else tr.gettext("another source")


def also_reported_spans(
    others: Sequence[Article],
    *,
    exclude: Article | None = None,
    lead: str = "\n\n",
    tr: Translator = ENGLISH,
) -> list[Span]:
    """ "\n\nAlso reported by: A, B": each publisher once (not the one of ``exclude``), linked
    to its first report that has a URL; nothing when there is no other publisher."""
    seen = {publisher_name(exclude, tr).casefold()} if exclude is not None else set()
    names: dict[str, tuple[str, str | None]] = {}
    for other in others:
        name = publisher_name(other, tr)
        key = name.casefold()
        if key in seen:
            continue
        known = names.get(key)
        if known is None:
            names[key] = (name, http_url(other.url))
        elif known[1] is None:  # the first spelling, the first report with a link
            names[key] = (known[0], http_url(other.url))
    if not names:
        return []
    spans = [plain(lead + tr.gettext("Also reported by:") + " ")]
    for n, (name, url) in enumerate(names.values()):
        if n:
            spans.append(plain(", "))
        spans.append(link(name, url))
    return spans


def render_article_plain(
    article: Article,
    *,
    topics: Mapping[str, str],
    tz: tzinfo | None = None,
    body_chars: int = 600,
    tr: Translator = ENGLISH,
) -> RenderedMessage:
    """``render_article`` without markup, for when Telegram says it can't parse entities."""
    spans = _article_spans(article, tz=tz, body_chars=body_chars, url_line=True, tr=tr)
    rendered = RenderedMessage(
        text=fit_plain(spans),
        reply_markup=_article_keyboard(article, topics, tr),
        disable_preview=http_url(article.url) is None,
        parse_mode=None,
    )
    return with_picture(rendered, article.image_url)


# -- related news ------------------------------------------------------------------------------


def _related_entry(
    n: int, related: Article | RelatedEntry, tz: tzinfo | None, tr: Translator
) -> list[Span]:
    # A stored article is listed as /latest lists it, with the dateline it shows when opened;
    # an entry of the publisher's box keeps its time in the article's zone, and says which.
    if isinstance(related, Article):
        return _list_entry(n, related, tz, tr)
    parts = [_dateline(related.published_at, tz, tr)] if related.published_at else []
    meta = " · ".join([*parts, _label(related.category)] if related.category else parts)
    spans = [plain(f"\n\n{n}. "), bold(_title(related.title, LIST_TITLE_LIMIT, tr))]
    if meta:
        spans.append(plain(f"\n{meta}"))
    return spans


def _report_entry(n: int, report: Article, tz: tzinfo | None, tr: Translator) -> list[Span]:
    """Another report of the same story: its publisher first, then its headline."""
    return [
        plain(f"\n\n{n}. "),
        bold_link(publisher_name(report, tr), report.url),
        plain(f": {_title(report.title, LIST_TITLE_LIMIT, tr)}"),
        plain(f"\n{_dateline(report.published_at, tz, tr)} · "),
        code(f"#{report.id}"),
    ]


def render_related(
    article: Article,
    related: Sequence[Article | RelatedEntry],
    *,
    limit: int = RELATED_LIMIT,
    tz: tzinfo | None = None,
    reports: Sequence[Article] = (),
    tr: Translator = ENGLISH,
) -> RenderedMessage:
    """The "Related news" box: numbered headlines with their dateline and category.

    Stored articles get their ``#id`` and a number button opening them (``art:<id>``); entries
    of the publisher's own box (``RelatedEntry``) have no id, so they are listed only. ``tz``
    shows the times in the reader's zone, as ``render_article`` does. ``reports`` are the
    story's other reports: listed first, as "Also reported by", then the related stories.
    """
    own = [r for r in reports if r.id != article.id][:MAX_LIST]
    shown = list(related)[: max(limit, 0)]
    if not shown and not own:
        return RenderedMessage(tr.gettext(NO_RELATED), None, disable_preview=True)
    head = [
        bold(tr.gettext("Related news")),
        plain("\n"),
        italic(_title(article.title, 120, tr)),
    ]
    entries = [_report_entry(n, r, tz, tr) for n, r in enumerate(own, 1)]
    if own:
        head.append(plain("\n\n"))
        head.append(bold(tr.gettext("Also reported by")))
        if shown:  # the heading of the related part rides with its first entry
            entries.append([plain("\n\n"), bold(tr.gettext("Related stories"))])
    entries += [_related_entry(n, rel, tz, tr) for n, rel in enumerate(shown, len(own) + 1)]
    spans, count = _pack(head, entries)
    listed = [*own, *shown]
    count -= 1 if own and shown and count > len(own) else 0  # the heading is no entry
    buttons = [
        InlineKeyboardButton(str(n), callback_data=callback("art", rel.id))
        for n, rel in enumerate(listed[:count], 1)
        if isinstance(rel, Article)
    ]
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    markup = InlineKeyboardMarkup(rows) if rows else None
    return RenderedMessage(fit_html(spans), markup, disable_preview=True)


# -- lists: /latest, /search -------------------------------------------------------------------


def _list_entry(
    n: int,
    article: Article,
    tz: tzinfo | None,
    tr: Translator,
    also: Sequence[Article] = (),
    sources: int = 1,
) -> list[Span]:
    meta = _dateline(article.published_at, tz, tr)
    category = _label(article.category)
    if category:
        meta += f" · {category}"
    if sources > 1:
        count = tr.ngettext("%(n)d source", "%(n)d sources", sources) % {"n": sources}
        meta += f" · {count}"
    return [
        plain(f"\n\n{n}. "),
        bold_link(_title(article.title, LIST_TITLE_LIMIT, tr), article.url),
        plain(f"\n{meta} · "),
        code(f"#{article.id}"),
        *also_reported_spans(also, exclude=article, lead="\n", tr=tr),
    ]


def render_list(
    title: str,
    articles: Sequence[Article],
    *,
    tz: tzinfo | None = None,
    page_callback: str | None = None,
    back_callback: str | None = None,
    first: int = 1,
    empty: str | None = None,
    also: Mapping[int, Sequence[Article]] | None = None,
    sources: Mapping[int, int] | None = None,
    tr: Translator = ENGLISH,
) -> RenderedMessage:
    """A numbered list of articles with a button per entry and optional "‹ Back" / "More ›".

    ``page_callback`` and ``back_callback`` are put on those buttons as they are; they must be
    valid callback data. ``first`` is the number of the first entry (a later page goes on
    counting); ``empty`` is said when there is nothing to list. Entries that do not fit in one
    message are dropped from the end (so are their buttons). ``also`` gives, by article id,
    the other reports of its story, named under it ("Also reported by: ..."); ``sources``
    gives, by article id, how many reports its story has ("· 3 sources").
    """
    head = [bold(truncate(clean_line(title) or tr.gettext("Articles"), HEADER_LIMIT))]
    shown = list(articles)[:MAX_LIST]
    if shown:
        others = also or {}
        counts = sources or {}
        entries = [
            _list_entry(n, a, tz, tr, others.get(a.id, ()), counts.get(a.id, 1))
            for n, a in enumerate(shown, first)
        ]
        spans, count = _pack(head, entries)
    else:
        said = clean_line(empty) or tr.gettext(NOTHING_LISTED)
        spans, count = [*head, plain(f"\n\n{truncate(said, HEADER_LIMIT)}")], 0
    rows = _numbered_rows([callback("art", a.id) for a in shown[:count]], first)
    pages = []
    for label, data in ((N_("‹ Back"), back_callback), (N_("More ›"), page_callback)):
        if data is not None:
            parse_callback(data)
            pages.append(InlineKeyboardButton(tr.gettext(label), callback_data=data))
    if pages:
        rows.append(pages)
    markup = InlineKeyboardMarkup(rows) if rows else None
    return RenderedMessage(fit_html(spans), markup, disable_preview=True)


# -- topics, help, welcome ---------------------------------------------------------------------


def render_topics_keyboard(
    topics: Sequence[TopicLike], subscribed: Collection[str]
) -> InlineKeyboardMarkup:
    """Toggle buttons, two per row: ``✅ Economy`` when subscribed, ``▫️ Russia`` otherwise."""
    buttons = []
    for topic in topics:
        slug, name = _topic_pair(topic)
        mark = "✅" if slug in subscribed else "▫️"
        buttons.append(
            InlineKeyboardButton(
                f"{mark} {_button_name(name, slug)}", callback_data=callback("tog", slug)
            )
        )
    return InlineKeyboardMarkup(
        [buttons[i : i + TOGGLES_PER_ROW] for i in range(0, len(buttons), TOGGLES_PER_ROW)]
    )


def quoted_word(word: str) -> str:
    """A followed or muted word as shown: a phrase in quotes (plain text, not escaped)."""
    return f'"{word}"' if " " in word else word


def render_word_rows(
    words: Sequence[tuple[int, str, str]], tr: Translator = ENGLISH
) -> list[list[InlineKeyboardButton]]:
    """One remove button a row for each (id, word, kind): ``✖ Unfollow inflation``."""
    verbs = {"follow": N_("✖ Unfollow %(word)s"), "mute": N_("✖ Unmute %(word)s")}
    other = N_("✖ Remove %(word)s")
    return [
        [
            InlineKeyboardButton(
                tr.gettext(verbs.get(kind, other)) % {"word": _button_name(quoted_word(word), "?")},
                callback_data=callback("wrd", word_id),
            )
        ]
        for word_id, word, kind in words
    ]


# -- forum topics ------------------------------------------------------------------------------


def thread_name(thread_id: int | None, here: int | None = None, tr: Translator = ENGLISH) -> str:
    """Where a forum group's articles go, as said to it (plain text): "this topic" (the one
    ``here``, where the command was sent), "topic 42", or "the General topic"."""
    if thread_id is None:
        return tr.gettext("the General topic")
    if thread_id == here:
        return tr.gettext("this topic")
    return tr.gettext("topic %(thread)d") % {"thread": thread_id}


def with_threads(
    entries: Sequence[tuple[str, int | None]], here: int | None = None, tr: Translator = ENGLISH
) -> str:
    """ "<b>Economy</b> (this topic), <b>Russia</b> (the General topic)" (HTML): each (name
    already escaped, thread) with where it goes."""
    return ", ".join(
        markup(
            tr.gettext("%(name)s (%(thread)s)"),
            name=name,
            thread=escape(thread_name(thread, here, tr)),
        )
        for name, thread in entries
    )


def delivered_into(thread_id: int | None, here: int | None = None, tr: Translator = ENGLISH) -> str:
    """The sentence a forum group's /subscribe or /follow ends with: where the articles go."""
    where = escape(thread_name(thread_id, here, tr))
    return markup(tr.gettext("Delivered into %(thread)s."), thread=where)


def moved_into(
    names: str, thread_id: int | None, here: int | None = None, tr: Translator = ENGLISH
) -> str:
    """Topics or words (``names``, escaped) that went to another thread and now go here."""
    where = escape(thread_name(thread_id, here, tr))
    return markup(
        tr.gettext("%(names)s: delivered into %(thread)s from now on."), names=names, thread=where
    )


def render_thread_lost(
    lost: LostThread, topics: Mapping[str, str], tr: Translator = ENGLISH
) -> RenderedMessage:
    """Told once to a forum group whose topic thread Telegram refused (deleted or closed):
    what went there comes to the General topic now, and how to choose a topic again."""
    what = [topics.get(slug, slug) for slug in lost.topics] + [quoted_word(w) for w in lost.words]
    if what:
        text = tr.gettext(
            "⚠️ Topic %(thread)d of this group is closed or deleted, so its news (%(what)s) now"
            " comes to the General topic. An admin can send /subscribe or /follow inside an"
            " open topic to have it delivered there."
        ) % {"thread": lost.thread_id, "what": truncate(", ".join(what), HEADER_LIMIT)}
    else:
        text = tr.gettext(
            "⚠️ Topic %(thread)d of this group is closed or deleted, so its news now comes to"
            " the General topic. An admin can send /subscribe or /follow inside an open topic"
            " to have it delivered there."
        ) % {"thread": lost.thread_id}
    return RenderedMessage(fit_html([plain(text)]), None, disable_preview=True)


def render_help(commands: Sequence[tuple[str, str]], tr: Translator = ENGLISH) -> str:
    """``/command — what it does``, one a line, under a bold heading (HTML).

    The descriptions are msgids (``bot.commands``), said in ``tr``'s language.
    """
    head = [bold(tr.gettext("Commands")), plain("\n")]
    entries = []
    for command, description in commands:
        name = truncate(clean_line(command).lstrip("/"), 32)
        about = _label(tr.gettext(description) if description else "", 256)
        entries.append([plain(f"\n/{name} — {about}" if about else f"\n/{name}")])
    spans, _ = _pack(head, entries)
    return fit_html(spans)


def render_welcome(bot_name: str, tr: Translator = ENGLISH) -> str:
    """The /start greeting (HTML)."""
    # The bot's name is bold inside a translated sentence: the sentence is split at its
    # placeholder, so each part is escaped as plain text and the name keeps its tag.
    before, _, after = tr.gettext("👋 Hi! I'm %(name)s.").partition("%(name)s")
    return fit_html(
        [
            plain(before),
            bold(truncate(clean_line(bot_name) or "newsbot", LABEL_LIMIT)),
            plain(after),
            plain(
                " "
                + tr.gettext("I bring you the news on the topics you follow.")
                + "\n\n"
                + "\n".join(
                    f"/{command} — {tr.gettext(about)}"
                    for command, about in (
                        ("topics", N_("choose your topics")),
                        ("latest", N_("the newest articles")),
                        ("search", N_("find articles")),
                        ("help", N_("every command")),
                    )
                )
            ),
        ]
    )


def suggest_topics(word: str, slugs_and_names: Sequence[TopicLike], n: int = 3) -> list[str]:
    """Up to ``n`` topic names close to an unknown ``word``.

    Matches at the start of a word beat fuzzy ones: ``asia`` means Central Asia, not Russia.
    """
    needle = clean_line(word).lstrip("#/").casefold()
    if not needle or n <= 0:
        return []
    names: dict[str, str] = {}  # every spelling of a topic, casefolded -> its display name
    for topic in slugs_and_names:
        slug, name = _topic_pair(topic)
        for key in (slug, slug.replace("-", " ").replace("_", " "), name):
            names.setdefault(key.casefold(), name)
    starts = [
        k
        for k in names
        if any(w.startswith(needle) for w in k.split()) or (len(k) >= 3 and needle.startswith(k))
    ]
    close = difflib.get_close_matches(needle, list(names), n=len(names), cutoff=0.6)
    inside = [k for k in names if needle in k]
    found: list[str] = []
    for key in (*starts, *close, *inside):
        if names[key] not in found:
            found.append(names[key])
    return found[:n]
