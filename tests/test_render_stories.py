"""Pure story formatters: "Also reported by" under an article, in lists, and the source counts."""

from __future__ import annotations

from bot.render.messages import (
    also_reported_spans,
    publisher_name,
    render_list,
    render_related,
    render_story_article,
)
from bot.render.text import MESSAGE_LIMIT, fit_html, utf16_len, visible_len, visible_text
from tests.test_render_messages import TOPICS, make_article


def test_also_reported_names_each_publisher_once_linked_and_escaped() -> None:
    first = make_article(id=1, publisher="Trend", attribution=None)
    others = [
        make_article(id=2, publisher="Caspian Wire", attribution=None, url=None),
        make_article(id=3, publisher="caspian wire", attribution=None, url="https://cw.az/3"),
        make_article(id=4, publisher="Trend", attribution=None),  # the message's own publisher
        make_article(id=5, publisher="A <b> & Co", attribution=None, url="javascript:alert(1)"),
    ]
    html = fit_html(also_reported_spans(others, exclude=first))
    assert html == (
        '\n\nAlso reported by: <a href="https://cw.az/3">Caspian Wire</a>, A &lt;b&gt; &amp; Co'
    )


def test_nothing_is_added_without_another_publisher() -> None:
    first = make_article(id=1)
    assert also_reported_spans([make_article(id=2)], exclude=first) == []


def test_a_publisher_is_named_by_attribution_or_host_when_missing() -> None:
    assert publisher_name(make_article(publisher=None, attribution="TASS")) == "TASS"
    nameless = make_article(publisher=None, attribution=None, url="https://www.trend.az/x")
    assert publisher_name(nameless) == "trend.az"
    assert publisher_name(make_article(publisher=None, attribution=None, url=None)) == (
        "another source"
    )


def test_a_story_message_stays_within_one_message_and_keeps_the_publishers() -> None:
    long_body = "Word " * 3000
    first = make_article(id=1, body=long_body, publisher="Trend")
    others = [
        make_article(id=n, publisher=f"Publisher number {n:02d} with a long name", url=None)
        for n in range(2, 50)
    ]
    rendered = render_story_article(first, others, topics=TOPICS)
    text = rendered.text
    assert visible_len(text) <= MESSAGE_LIMIT
    assert "Also reported by: Publisher number 02" in text
    assert text.endswith("Publisher number 49 with a long name")
    assert utf16_len(text) > 0


def test_related_puts_the_story_s_reports_first_then_related_stories() -> None:
    article = make_article(id=1, publisher="Trend", attribution=None)
    reports = [article, make_article(id=2, publisher="Caspian Wire", attribution=None)]
    related = [make_article(id=9, title="Another event", attribution=None)]
    rendered = render_related(article, related, reports=reports)
    text = visible_text(rendered.text)
    assert text.index("Also reported by") < text.index("1. Caspian Wire: Putin")
    assert text.index("Related stories") < text.index("2. Another event")
    assert rendered.reply_markup is not None
    buttons = [b.callback_data for row in rendered.reply_markup.inline_keyboard for b in row]
    assert buttons == ["art:2", "art:9"]


def test_a_list_row_says_how_many_sources_its_story_has() -> None:
    rendered = render_list("Latest news", [make_article(id=5)], sources={5: 3})
    assert "· 3 sources · #5" in visible_text(rendered.text)
    single = render_list("Latest news", [make_article(id=5)], sources={5: 1})
    assert "sources" not in visible_text(single.text)
