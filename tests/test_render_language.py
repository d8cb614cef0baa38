"""The pure formatters in Russian: our words and dates translated, the article's own text not."""

from __future__ import annotations

import pytest

from bot.i18n import ENGLISH, Languages, Translator
from bot.render.messages import (
    render_article,
    render_help,
    render_list,
    render_related,
    render_welcome,
    render_word_rows,
)
from bot.render.text import visible_text
from tests.test_render_messages import TOPICS, make_article


@pytest.fixture(scope="module")
def ru() -> Translator:
    return Languages.load().get("ru")


def buttons(rendered: object) -> list[str]:
    markup = getattr(rendered, "reply_markup", None)
    assert markup is not None
    return [b.text for row in markup.inline_keyboard for b in row]


def test_an_article_keeps_its_words_and_gets_our_russian_ones(ru: Translator) -> None:
    article = make_article(topics=("economy",))
    rendered = render_article(article, topics=TOPICS, tr=ru)
    text = visible_text(rendered.text)
    assert "9 июня 2018 12:34 (UTC+04:00) · Economy news" in text
    assert article.title in text
    assert "TASS через Azernews" in text
    assert buttons(rendered) == ["По теме", "Подписаться: Economy"]
    english = render_article(article, topics=TOPICS, tr=ENGLISH)
    assert buttons(english) == ["Related", "Subscribe to Economy"]


@pytest.mark.parametrize(
    ("sources", "said"), [(2, "2 источника"), (5, "5 источников"), (21, "21 источник")]
)
def test_a_lists_source_counts_use_russian_plurals(ru: Translator, sources: int, said: str) -> None:
    article = make_article()
    rendered = render_list("Последние новости", [article], sources={article.id: sources}, tr=ru)
    assert f"· {said} ·" in visible_text(rendered.text)


def test_empty_lists_paging_and_related_in_russian(ru: Translator) -> None:
    assert "Здесь пока пусто." in render_list("", [], tr=ru).text
    paged = render_list(
        "x", [make_article()], page_callback="more:-:5:5", back_callback="more:-:0:5", tr=ru
    )
    assert buttons(paged)[-2:] == ["‹ Назад", "Ещё ›"]
    assert render_related(make_article(), [], tr=ru).text == "Статей по теме пока нет."
    related = render_related(make_article(), [make_article(id=7)], tr=ru)
    assert visible_text(related.text).startswith("Новости по теме\n")


def test_help_welcome_and_word_buttons_in_russian(ru: Translator) -> None:
    assert "/latest — Свежие статьи" in render_help(
        [("latest", "Newest articles: /latest [topic] [n]")], ru
    )
    welcome = visible_text(render_welcome("Newsbot", ru))
    assert welcome.startswith("👋 Привет! Я Newsbot. Я приношу новости")
    rows = render_word_rows([(1, "инфляция", "follow"), (2, "крипто биржа", "mute")], ru)
    assert [r[0].text for r in rows] == ["✖ Не отслеживать инфляция", '✖ Показывать "крипто биржа"']
