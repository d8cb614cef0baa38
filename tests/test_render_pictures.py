"""The caption-fits decision (issue 11, section 3): an article with a picture is a photo when its
formatted text fits Telegram's 1,024-unit caption, counted after entity parsing in UTF-16
units; otherwise a text under the picture's large preview. Pure formatters, no I/O."""

from __future__ import annotations

import dataclasses

from bot.render.messages import (
    RenderedMessage,
    caption_fits,
    render_article,
    render_article_plain,
    render_story_article,
    with_picture,
)
from bot.render.text import CAPTION_LIMIT, visible_len, visible_text
from tests.test_render_messages import make_article

PICTURE = "https://pictures.example/1.jpg"
TOPICS = {"russia": "Russia", "central-asia": "Central Asia"}


def test_the_caption_limit_counts_what_telegram_shows() -> None:
    assert caption_fits("x" * CAPTION_LIMIT)
    assert not caption_fits("x" * (CAPTION_LIMIT + 1))
    # Tags are no text, an entity is one character, an emoji outside the BMP is two units.
    assert caption_fits("<b>" + "&amp;" * CAPTION_LIMIT + "</b>")
    assert not caption_fits("🙂" * (CAPTION_LIMIT // 2) + "x")
    # Plain text (the fallback without markup) is counted as it is.
    assert not caption_fits("<b>" + "x" * (CAPTION_LIMIT - 2), parse_mode=None)
    assert caption_fits("<b>" + "x" * (CAPTION_LIMIT - 2), parse_mode="HTML")


def test_with_picture_chooses_photo_or_large_preview() -> None:
    short = RenderedMessage("short", None, disable_preview=True)
    long = RenderedMessage("y" * (CAPTION_LIMIT + 1), None, disable_preview=True)
    assert with_picture(short, PICTURE).photo == PICTURE
    assert with_picture(short, PICTURE).large_preview is None
    under = with_picture(long, PICTURE)
    assert (under.photo, under.large_preview, under.disable_preview) == (None, PICTURE, False)
    # No picture, or one Telegram could not fetch anyway (not http), changes nothing.
    assert with_picture(short, None) == short
    assert with_picture(short, "javascript:alert(1)") == short
    assert with_picture(short, PICTURE).without_picture() == short


def test_an_article_with_a_picture_is_a_photo_when_it_fits() -> None:
    article = make_article(image_url=PICTURE)
    rendered = render_article(article, topics=TOPICS)
    assert visible_len(rendered.text) <= CAPTION_LIMIT
    assert (rendered.photo, rendered.large_preview) == (PICTURE, None)
    assert rendered.reply_markup is not None  # Related and Subscribe stay
    assert render_article(make_article(), topics=TOPICS).picture is None


def test_an_article_too_long_for_a_caption_keeps_its_picture_as_the_preview() -> None:
    article = make_article(
        image_url=PICTURE,
        title="A long headline " * 19,
        attribution="Meridian Wire Economic Service of the Caspian Region",
        publisher="Caspian Courier International Edition",
        category="Economy and business news of the wider Caspian region",
        topics=("russia", "central-asia", "economy", "politics", "energy"),
    )
    rendered = render_article(article, topics=TOPICS)
    assert visible_len(rendered.text) > CAPTION_LIMIT
    assert (rendered.photo, rendered.large_preview) == (None, PICTURE)
    plain = render_article_plain(article, topics=TOPICS)
    assert plain.parse_mode is None
    assert plain.picture == PICTURE


def test_a_story_edit_of_a_photo_fits_the_caption() -> None:
    article = make_article(image_url=PICTURE, title="A long headline " * 10)
    others = [
        dataclasses.replace(make_article(), id=50 + n, publisher=f"Publisher {n}" * 3)
        for n in range(20)
    ]
    caption = render_story_article(article, others, topics=TOPICS, caption=True)
    assert visible_len(caption.text) <= CAPTION_LIMIT
    assert caption.photo == PICTURE
    assert "Also reported by: Publisher 0" in visible_text(caption.text)
    text = render_story_article(article, others, topics=TOPICS)
    assert visible_len(text.text) > CAPTION_LIMIT
    assert (text.photo, text.large_preview) == (None, PICTURE)  # a text stays a text
