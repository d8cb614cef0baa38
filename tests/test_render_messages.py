"""Message formatters: valid Telegram HTML within 4096 UTF-16 units, whatever the publisher sent."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram import InlineKeyboardMarkup

from bot.render.messages import (
    NO_RELATED,
    RenderedMessage,
    button_pressed,
    callback,
    hashtag,
    parse_callback,
    render_article,
    render_article_plain,
    render_help,
    render_list,
    render_related,
    render_topics_keyboard,
    render_welcome,
    suggest_topics,
)
from bot.render.text import utf16_len, visible_len, visible_text
from core.settings import TopicConfig
from storage.models import Article, RelatedEntry

BAKU = timezone(timedelta(hours=4))
PUBLISHED = datetime(2018, 6, 9, 12, 34, tzinfo=BAKU)
HOSTILE = "<script>alert(1)</script> Tom & Jerry <b>"
TOPICS = {"economy": "Economy", "russia": "Russia", "central-asia": "Central Asia"}
SEED_BODY = (
    "Russian President Vladimir Putin and his Tajik counterpart Emomali Rahmon plan to discuss "
    "regional security issues and the situation around the Tajik-Afghan border, TASS reports.\n\n"
    '"We have a lot of issues related to maintaining security, I mean the difficult situation '
    'along your southern borders, in Afghanistan. We will talk about all that today," Putin '
    "said at a meeting with Rahmon.\n\n"
    "The Russian leader also noted that the two leaders will have also have an opportunity to "
    "discuss various issues at the CIS summit in Dushanbe scheduled for September."
)


def make_article(**changes: Any) -> Article:
    article = Article(
        id=42,
        title="Putin underlines strategic partnership between Russia, Tajikistan",
        url="https://www.azernews.az/region/133271.html",
        guid=None,
        summary="",
        body=SEED_BODY,
        published_at=PUBLISHED,
        publisher="Azernews",
        attribution="TASS",
        category="Economy news",
        language="en",
        image_url=None,
        topics=("russia", "central-asia"),
        created_at=PUBLISHED,
        updated_at=None,
    )
    return dataclasses.replace(article, **changes)


# -- a checker for the HTML we emit, by Telegram's rules -------------------------------------

_TOKEN = re.compile(r"<(/?)([A-Za-z0-9-]*)([^>]*)>|&(lt|gt|amp|quot);|([<>&])")
_HREF = re.compile(r' href="((?:[^"<>&]|&(?:lt|gt|amp|quot);)*)"')
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ALLOWED_TAGS = {"b", "i", "a", "code", "blockquote"}


def check_html(html: str) -> str:
    """Parse ``html`` as Telegram would (for the tags we use); return the visible text."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(html):
        out.append(html[pos : match.start()])
        pos = match.end()
        closing, tag, attrs, entity, stray = match.groups()
        if stray:
            raise AssertionError(f"raw {stray!r} at {match.start()} in {html!r}")
        if entity:
            out.append(_ENTITIES[entity])
            continue
        if tag not in _ALLOWED_TAGS:
            raise AssertionError(f"unsupported tag <{closing}{tag}> in {html!r}")
        if closing:
            assert not attrs, html
            assert stack, f"</{tag}> closes nothing in {html!r}"
            assert stack[-1] == tag, f"</{tag}> does not close {stack} in {html!r}"
            stack.pop()
            continue
        if tag == "a":
            href = _HREF.fullmatch(attrs)
            assert href, f"bad <a{attrs}>"
            assert re.match(r"https?://", visible_text(href.group(1))), attrs
        else:
            assert not attrs, f"<{tag}{attrs}>"
        assert tag not in stack, f"<{tag}> inside <{tag}>"
        stack.append(tag)
    out.append(html[pos:])
    assert not stack, f"unclosed {stack} in {html!r}"
    return "".join(out)


def assert_sendable(message: RenderedMessage) -> str:
    """Check the message as Telegram would and return the text a reader sees."""
    if message.parse_mode is None:
        shown = message.text
    else:
        assert message.parse_mode == "HTML"
        shown = check_html(message.text)
        assert shown == visible_text(message.text)
        assert visible_len(message.text) == utf16_len(shown)
    assert 1 <= utf16_len(shown) <= 4096
    assert shown.strip()
    shown.encode("utf-16")  # no lone surrogate anywhere
    shown.encode("utf-8")
    if message.reply_markup is not None:
        for row in message.reply_markup.inline_keyboard:
            for button in row:
                assert isinstance(button.callback_data, str)
                assert len(button.callback_data.encode()) <= 64
                parse_callback(button.callback_data)
    return shown


def callbacks(markup: InlineKeyboardMarkup | None) -> list[list[str]]:
    assert markup is not None
    return [[str(b.callback_data) for b in row] for row in markup.inline_keyboard]


def labels(markup: InlineKeyboardMarkup | None) -> list[list[str]]:
    assert markup is not None
    return [[b.text for b in row] for row in markup.inline_keyboard]


def test_the_checker_refuses_what_telegram_refuses() -> None:
    for bad in ("<script>x</script>", "a < b", "Tom & Jerry", "<b><i>x</b></i>", "<b>x", "&nbsp;"):
        with pytest.raises(AssertionError):
            check_html(bad)
    assert check_html('<a href="https://x.test/?a&amp;b"><b>1 &lt; 2</b></a>') == "1 < 2"


# -- render_article --------------------------------------------------------------------------


def test_article_layout_like_the_publisher() -> None:
    message = render_article(make_article(), topics=TOPICS)
    assert message.text.startswith(
        '<a href="https://www.azernews.az/region/133271.html"><b>Putin underlines strategic '
        "partnership between Russia, Tajikistan</b></a>\n"
        "9 June 2018 12:34 (UTC+04:00) · Economy news\n\n"
        "Russian President Vladimir Putin"
    )
    assert message.text.endswith(
        "in Dushanbe scheduled for September.\n\n<i>TASS via Azernews</i>\n#russia #central_asia"
    )
    assert message.parse_mode == "HTML"
    assert message.disable_preview is False
    shown = assert_sendable(message)
    assert '"We have' in shown


def test_article_opening_is_cut_at_a_sentence_with_an_ellipsis() -> None:
    message = render_article(make_article(), topics=TOPICS, body_chars=200)
    shown = assert_sendable(message)
    assert "the Tajik-Afghan border, TASS reports. …\n\n" in shown
    assert "We have" not in shown


def test_article_buttons() -> None:
    message = render_article(make_article(), topics=TOPICS)
    assert callbacks(message.reply_markup) == [["rel:42", "sub:russia"]]
    assert labels(message.reply_markup) == [["Related", "Subscribe to Russia"]]
    unnamed = render_article(make_article(topics=("tajikistan",)), topics=TOPICS)
    assert labels(unnamed.reply_markup) == [["Related", "Subscribe to tajikistan"]]
    untagged = render_article(make_article(topics=()), topics=TOPICS)
    assert callbacks(untagged.reply_markup) == [["rel:42"]]
    assert "#" not in visible_text(untagged.text)


def test_hostile_title_shows_as_literal_text() -> None:
    for article in (make_article(title=HOSTILE), make_article(title=HOSTILE, url=None)):
        message = render_article(article, topics=TOPICS)
        assert "<script" not in message.text
        assert "<b>&lt;script&gt;alert(1)&lt;/script&gt; Tom &amp; Jerry &lt;b&gt;</b>" in (
            message.text
        )
        assert assert_sendable(message).startswith(HOSTILE + "\n")
        plain = render_article_plain(article, topics=TOPICS)
        assert plain.parse_mode is None
        assert assert_sendable(plain).startswith(HOSTILE + "\n")


def test_hostile_text_everywhere() -> None:
    article = make_article(
        title=HOSTILE,
        body=HOSTILE + " &amp; &#x41; " * 500,
        category=HOSTILE,
        attribution="<i>TASS",
        publisher='Aze"rnews</a>',
        url='https://x.test/?q="><script>alert(1)</script>&a=1',
    )
    message = render_article(article, topics={"russia": HOSTILE})
    shown = assert_sendable(message)
    assert "&amp; &#x41;" in shown  # publisher's entities are text, not markup
    assert '<i>TASS via Aze"rnews</a>' in shown
    assert '<a href="https://x.test/?q=&quot;&gt;&lt;script&gt;' in message.text
    assert labels(message.reply_markup)[0][1].startswith("Subscribe to <script>")


def test_javascript_url_is_not_linked() -> None:
    for url in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "ftp://x.test"):
        message = render_article(make_article(url=url), topics=TOPICS)
        assert "<a " not in message.text
        assert message.text.startswith("<b>Putin underlines")
        assert message.disable_preview is True
        assert url not in render_article_plain(make_article(url=url), topics=TOPICS).text


def test_a_huge_body_is_cut_to_fit() -> None:
    body = ("Economy news from Baku and Moscow. " * 2000)[:50_000]
    for chars in (600, 4000, 10_000, 100_000):
        for render in (render_article, render_article_plain):
            shown = assert_sendable(
                render(make_article(body=body), topics=TOPICS, body_chars=chars)
            )
            assert 500 < utf16_len(shown) <= 4096
            assert "TASS via Azernews" in shown
            assert "#russia" in shown


def test_a_huge_title_is_cut() -> None:
    title = "Breaking " * 600
    message = render_article(make_article(title=title), topics=TOPICS)
    shown = assert_sendable(message)
    first_line = shown.split("\n")[0]
    assert first_line.endswith("…")
    assert utf16_len(first_line) <= 300
    assert "9 June 2018 12:34" in shown


def test_emoji_body_never_ends_in_half_a_character() -> None:
    for chars in (1, 2, 3, 599, 600, 601, 5000):
        message = render_article(make_article(body="😀" * 5000), topics=TOPICS, body_chars=chars)
        shown = assert_sendable(message)
        assert shown.encode("utf-16", "surrogatepass").decode("utf-16") == shown
        assert all(not "\ud800" <= ch <= "\udfff" for ch in message.text)


def test_lone_surrogates_from_the_publisher_are_replaced() -> None:
    message = render_article(make_article(title="bad \ud83d title", body="x\udc00y"), topics={})
    shown = assert_sendable(message)
    assert "bad \ufffd title" in shown


def test_combining_marks_rtl_and_zwj_survive_cuts() -> None:
    body = "e\u0301" * 3000 + " مرحبا بالعالم " * 100 + "👨‍👩‍👧" * 500
    title = "שלום " * 100 + "Z\u0336\u0337" * 200
    for chars in (50, 301, 600, 4096):
        message = render_article(make_article(title=title, body=body), topics={}, body_chars=chars)
        shown = assert_sendable(message)
        opening = shown.split("\n\n")[1]
        assert opening.removesuffix("…").replace("e\u0301", "") == ""


def test_empty_body_uses_the_summary_or_nothing() -> None:
    with_summary = render_article(make_article(body="", summary="The summary."), topics=TOPICS)
    assert "\n\nThe summary.\n\n" in assert_sendable(with_summary)
    bare = make_article(body="  \n ", summary="", title="", attribution=None, publisher=None)
    shown = assert_sendable(render_article(bare, topics=TOPICS))
    assert (
        shown == "(untitled)\n9 June 2018 12:34 (UTC+04:00) · Economy news\n\n#russia #central_asia"
    )


def test_source_line() -> None:
    def source(**changes: Any) -> str:
        return assert_sendable(render_article(make_article(topics=(), **changes), topics={}))

    assert source().endswith("\n\nTASS via Azernews")
    assert source(attribution=None).endswith("\n\nAzernews")
    assert source(publisher=None).endswith("\n\nTASS")
    assert source(attribution="Azernews").endswith("September.\n\nAzernews")
    assert source(attribution=None, publisher=None).endswith("September.")


def test_dateline_in_the_readers_zone() -> None:
    london = render_article(make_article(), topics=TOPICS, tz=ZoneInfo("Europe/London"))
    assert "\n9 June 2018 09:34 (UTC+01:00) · Economy news\n" in london.text
    winter = make_article(published_at=datetime(2018, 1, 9, 12, 34, tzinfo=BAKU))
    plain = render_article_plain(winter, topics=TOPICS, tz=ZoneInfo("Europe/London"))
    assert "\n9 January 2018 08:34 (UTC+00:00) · Economy news\n" in plain.text


def test_hashtags_from_slugs() -> None:
    assert hashtag("central-asia") == "#central_asia"
    assert hashtag("economy") == "#economy"
    assert hashtag("2018") is None  # Telegram needs a letter in a hashtag
    message = render_article(
        make_article(topics=("central-asia", "oil_gas", "2018", "central-asia")), topics={}
    )
    assert message.text.endswith("\n#central_asia #oil_gas")


# -- callback data ---------------------------------------------------------------------------


def test_callback_round_trips() -> None:
    assert callback("rel", 42) == "rel:42"
    assert parse_callback("rel:42") == ("rel", ["42"])
    assert parse_callback(callback("sub", "central-asia")) == ("sub", ["central-asia"])
    assert parse_callback("more:latest:economy:5") == ("more", ["latest", "economy", "5"])
    data = callback("more", "search", "oil: 50% up", 10)
    assert parse_callback(data) == ("more", ["search", "oil: 50% up", "10"])
    assert parse_callback("noop") == ("noop", [])


def test_callback_data_fits_64_bytes() -> None:
    assert len(callback("tog", "a" * 32).encode()) <= 64
    assert len(callback("rel", 2**63 - 1)) <= 64
    assert len(callback("x", "é" * 31).encode()) == 64
    with pytest.raises(ValueError, match="64"):
        callback("x", "é" * 32)
    with pytest.raises(ValueError, match="64"):
        callback("more", "search", "q" * 60)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        ":",
        "rel",
        "rel:",
        "rel:abc",
        "rel:1:2",
        "art:-1",
        "sub:Economy",
        "sub:" + "a" * 33,
        "tog:a b",
        "REL:1",
        "1rel:1",
        "more:50%",
        "more:%zz",
        "x:" + "a" * 63,
        "bad\ud83d",
    ],
)
def test_garbage_callback_data_is_refused(data: str | None) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every kind of garbage, one answer
        parse_callback(data)


def test_callback_refuses_what_parse_would_refuse() -> None:
    for parts in [(), ("",), ("rel", "x"), ("sub", "Not A Slug"), ("Bad", 1)]:
        with pytest.raises(ValueError):  # noqa: PT011
            callback(*parts)


def test_an_invalid_topic_slug_costs_the_button_not_the_message() -> None:
    message = render_article(make_article(topics=("Not A Slug", "russia")), topics={})
    assert callbacks(message.reply_markup) == [["rel:42"]]


# -- render_related --------------------------------------------------------------------------


def related_article(article_id: int, title: str, category: str, when: datetime) -> Article:
    return make_article(
        id=article_id, title=title, category=category, published_at=when, url=None, body=""
    )


def test_related_box_like_the_publisher() -> None:
    related = [
        related_article(
            7,
            "Rouhani urges Iran and Russia to step up dialogue after US pullout from nuclear deal",
            "Russia",
            datetime(2018, 6, 9, 13, 29, tzinfo=BAKU),
        ),
        related_article(
            8,
            "Azerbaijan adhering to UN Charter with policy of isolating Armenia: Farhad Mammadov",
            "Politics",
            datetime(2018, 6, 8, 16, 45, tzinfo=UTC),  # shown in its own zone, as when opened
        ),
    ]
    message = render_related(make_article(), related)
    assert message.text == (
        "<b>Related news</b>\n"
        "<i>Putin underlines strategic partnership between Russia, Tajikistan</i>\n\n"
        "1. <b>Rouhani urges Iran and Russia to step up dialogue after US pullout from nuclear "
        "deal</b>\n9 June 2018 13:29 (UTC+04:00) · Russia · <code>#7</code>\n\n"
        "2. <b>Azerbaijan adhering to UN Charter with policy of isolating Armenia: Farhad "
        "Mammadov</b>\n8 June 2018 16:45 (UTC+00:00) · Politics · <code>#8</code>"
    )
    assert render_article(related[1], topics={}).text.count("8 June 2018 16:45 (UTC+00:00)") == 1
    in_london = render_related(make_article(), related, tz=ZoneInfo("Europe/London"))
    assert "8 June 2018 17:45 (UTC+01:00) · Politics" in in_london.text
    assert callbacks(message.reply_markup) == [["art:7", "art:8"]]
    assert labels(message.reply_markup) == [["1", "2"]]
    assert message.disable_preview is True
    assert_sendable(message)


def test_related_shows_at_most_five_and_links_http_urls() -> None:
    related = [
        dataclasses.replace(
            related_article(i, f"Headline {i}", "Russia", PUBLISHED),
            url="https://x.test/a" if i % 2 else "javascript:alert(1)",
        )
        for i in range(1, 9)
    ]
    message = render_related(make_article(), related)
    assert labels(message.reply_markup) == [["1", "2", "3", "4", "5"]]
    assert message.text.count('<a href="https://x.test/a">') == 3
    assert "javascript" not in message.text
    assert "Headline 6" not in message.text
    assert_sendable(message)


def test_related_from_the_publishers_box_has_no_buttons() -> None:
    box = (
        RelatedEntry(
            "Putin expects dialogue with Trump to be constructive",
            "Russia",
            datetime(2018, 6, 9, 9, 43, tzinfo=BAKU),
        ),
        RelatedEntry("Trump says Russia should be in G7 meeting", None, None),
        RelatedEntry(HOSTILE, "US", datetime(2018, 6, 9, 1, 29, tzinfo=BAKU)),
    )
    message = render_related(make_article(), box)
    shown = assert_sendable(message)
    assert (
        "1. Putin expects dialogue with Trump to be constructive\n"
        "9 June 2018 09:43 (UTC+04:00) · Russia\n\n"
    ) in shown
    assert "2. Trump says Russia should be in G7 meeting\n\n3. " in shown
    assert shown.endswith(f"3. {HOSTILE}\n9 June 2018 01:29 (UTC+04:00) · US")
    assert message.reply_markup is None


def test_no_related_articles() -> None:
    message = render_related(make_article(), [])
    assert message.text == NO_RELATED
    assert message.reply_markup is None
    assert_sendable(message)


def test_related_with_huge_titles_fits() -> None:
    related = [related_article(i, HOSTILE * 400, HOSTILE * 50, PUBLISHED) for i in range(5)]
    message = render_related(make_article(title="😀" * 5000), related)
    assert_sendable(message)
    assert len(callbacks(message.reply_markup)[0]) == 5


# -- render_list -----------------------------------------------------------------------------


def test_list_layout_and_buttons() -> None:
    articles = [make_article(), related_article(7, "Rouhani urges Iran", "Russia", PUBLISHED)]
    message = render_list("Latest: Economy", articles, page_callback="more:latest:economy:5")
    assert message.text == (
        "<b>Latest: Economy</b>\n\n"
        '1. <a href="https://www.azernews.az/region/133271.html"><b>Putin underlines strategic '
        "partnership between Russia, Tajikistan</b></a>\n"
        "9 June 2018 12:34 (UTC+04:00) · Economy news · <code>#42</code>\n\n"
        "2. <b>Rouhani urges Iran</b>\n9 June 2018 12:34 (UTC+04:00) · Russia · <code>#7</code>"
    )
    assert callbacks(message.reply_markup) == [["art:42", "art:7"], ["more:latest:economy:5"]]
    assert labels(message.reply_markup) == [["1", "2"], ["More ›"]]
    assert_sendable(message)


def test_a_later_page_counts_on_and_has_a_way_back() -> None:
    articles = [related_article(i, f"Title {i}", "Russia", PUBLISHED) for i in (3, 4)]
    message = render_list(
        "Latest news (3–4)",
        articles,
        page_callback="more:-:4:2",
        back_callback="more:-:0:2",
        first=3,
    )
    assert "\n\n3. <b>Title 3</b>" in message.text
    assert "\n\n4. <b>Title 4</b>" in message.text
    assert labels(message.reply_markup) == [["3", "4"], ["‹ Back", "More ›"]]
    assert callbacks(message.reply_markup) == [["art:3", "art:4"], ["more:-:0:2", "more:-:4:2"]]


def test_list_in_the_readers_zone_without_more() -> None:
    message = render_list("Search: Putin", [make_article()], tz=ZoneInfo("Europe/London"))
    assert "9 June 2018 09:34 (UTC+01:00)" in message.text
    assert callbacks(message.reply_markup) == [["art:42"]]


def test_list_buttons_five_a_row() -> None:
    articles = [related_article(i, f"Title {i}", "Russia", PUBLISHED) for i in range(1, 13)]
    rows = labels(render_list("Latest", articles).reply_markup)
    assert rows == [["1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10"], ["11", "12"]]


def test_list_drops_entries_that_do_not_fit() -> None:
    articles = [
        related_article(i, HOSTILE * 200 + "😀" * 100, "Economy news", PUBLISHED)
        for i in range(1, 40)
    ]
    message = render_list(HOSTILE * 100, articles, page_callback="more:search:x:10")
    shown = assert_sendable(message)
    shown_entries = len(re.findall(r"^\d+\. ", shown, flags=re.MULTILINE))
    assert 5 < shown_entries < 39
    buttons = [b for row in callbacks(message.reply_markup)[:-1] for b in row]
    assert buttons == [f"art:{i}" for i in range(1, shown_entries + 1)]
    assert callbacks(message.reply_markup)[-1] == ["more:search:x:10"]
    for line in shown.split("\n"):
        assert utf16_len(line) <= 256


def test_empty_list() -> None:
    message = render_list("Search: nothing", [], page_callback=None)
    assert assert_sendable(message) == "Search: nothing\n\nNothing here yet."
    assert message.reply_markup is None
    said = render_list("Search: zzz", [], empty="No articles match “zzz”.")
    assert assert_sendable(said) == "Search: zzz\n\nNo articles match “zzz”."


def test_list_refuses_a_bad_page_callback() -> None:
    with pytest.raises(ValueError, match="64"):
        render_list("Latest", [make_article()], page_callback="more:" + "x" * 64)


# -- topics, help, welcome, suggestions ------------------------------------------------------

TOPIC_PAIRS = [
    ("economy", "Economy"),
    ("russia", "Russia"),
    ("central-asia", "Central Asia"),
    ("oil-gas", "Oil & Gas"),
    ("politics", "Politics"),
]


def test_topics_keyboard_toggles_two_a_row() -> None:
    markup = render_topics_keyboard(TOPIC_PAIRS, {"economy", "oil-gas"})
    assert labels(markup) == [
        ["✅ Economy", "▫️ Russia"],
        ["▫️ Central Asia", "✅ Oil & Gas"],
        ["▫️ Politics"],
    ]
    assert callbacks(markup) == [
        ["tog:economy", "tog:russia"],
        ["tog:central-asia", "tog:oil-gas"],
        ["tog:politics"],
    ]


def test_topics_keyboard_from_config() -> None:
    topics = [TopicConfig("economy", "Economy", ("Economy news",)), TopicConfig("us", "US")]
    assert labels(render_topics_keyboard(topics, set())) == [["▫️ Economy", "▫️ US"]]
    assert render_topics_keyboard([], set()).inline_keyboard == ()


def test_help_lists_commands() -> None:
    html = render_help([("latest", "Newest <articles> & more"), ("/help", ""), ("topics", "x")])
    assert html == (
        "<b>Commands</b>\n\n/latest — Newest &lt;articles&gt; &amp; more\n/help\n/topics — x"
    )
    check_html(html)
    huge = render_help([(f"cmd{i}", HOSTILE * 20) for i in range(100)])
    assert visible_len(huge) <= 4096
    check_html(huge)


def test_welcome() -> None:
    html = render_welcome("News & <Bot>")
    assert html.startswith("👋 Hi! I'm <b>News &amp; &lt;Bot&gt;</b>.")
    assert "/topics" in check_html(html)
    assert visible_len(render_welcome("x" * 10_000)) <= 4096


def test_suggest_topics() -> None:
    assert suggest_topics("econmy", TOPIC_PAIRS) == ["Economy"]
    assert suggest_topics("ECONOMY", TOPIC_PAIRS) == ["Economy"]
    assert suggest_topics("russian", TOPIC_PAIRS) == ["Russia"]
    assert suggest_topics("asia", TOPIC_PAIRS)[0] == "Central Asia"  # before fuzzy "Russia"
    assert suggest_topics("central asia", TOPIC_PAIRS) == ["Central Asia"]
    assert suggest_topics("#oil", TOPIC_PAIRS) == ["Oil & Gas"]
    assert suggest_topics("po", TOPIC_PAIRS) == ["Politics"]
    assert suggest_topics("zzzz", TOPIC_PAIRS) == []
    assert suggest_topics("", TOPIC_PAIRS) == []
    assert len(suggest_topics("a", TOPIC_PAIRS, n=2)) <= 2
    assert suggest_topics("econmy", [TopicConfig("economy", "Economy")]) == ["Economy"]


# -- the same hostile cases through the Bot API double's strict parser -----------------------


def hostile_messages() -> list[RenderedMessage]:
    related = [related_article(i, HOSTILE * 50, HOSTILE, PUBLISHED) for i in range(1, 8)]
    huge = make_article(
        title=HOSTILE * 300 + "😀" * 1000,
        body="e\u0301 " * 10_000 + "😀" * 5000 + "שלום " * 1000 + "&nbsp; &#0; " * 100,
        category=HOSTILE,
        attribution=HOSTILE,
        publisher=HOSTILE,
        url='https://x.test/?q="><script>&amp;',
        topics=("central-asia", "2018"),
    )
    return [
        render_article(make_article(title=HOSTILE), topics=TOPICS),
        render_article(huge, topics={"central-asia": HOSTILE}, body_chars=100_000),
        render_article(make_article(body="😀" * 5000), topics=TOPICS, body_chars=4096),
        render_related(huge, related),
        render_list(HOSTILE, [huge] * 30, page_callback="more:latest:economy:5"),
        RenderedMessage(render_help([("x", HOSTILE)] * 200), None, True),
        RenderedMessage(render_welcome(HOSTILE), None, True),
    ]


def test_hostile_messages_pass_our_checker() -> None:
    for message in hostile_messages():
        assert_sendable(message)


def test_hostile_messages_pass_the_bot_api_double() -> None:
    html = pytest.importorskip("botapi_double.html")
    for message in hostile_messages():
        parsed = html.parse_html(message.text)
        assert parsed.text == visible_text(message.text)
        assert 1 <= html.utf16_len(html.trim(parsed.text, parsed.entities).text) <= 4096
        assert "<script" not in message.text


@pytest.mark.parametrize("data", [None, "", "no action!:1", "art:%zz", "x" * 65])
def test_a_button_we_could_not_have_made_is_pressed_as_nothing(data: str | None) -> None:
    assert button_pressed(data) == ("", [])


def test_a_button_we_made_is_pressed_as_its_action_and_arguments() -> None:
    assert button_pressed(callback("more", "economy", "5", "10")) == (
        "more",
        ["economy", "5", "10"],
    )
