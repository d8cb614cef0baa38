"""Reading news in a chat: /latest and its pages, article buttons, expired buttons, and what an
article message looks like when the publisher's text is hostile or huge."""

from __future__ import annotations

from pathlib import Path

from tests.harness import SEED_LIKE, make_article, running_bot


async def test_latest_lists_the_newest_five_with_buttons(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store_articles([make_article(n) for n in range(1, 9)])
        [answer] = await bot.say("/latest")
    assert answer.text.startswith("Latest news")
    positions = [answer.text.index(f"Headline number {n}") for n in (8, 7, 6, 5, 4)]
    assert positions == sorted(positions)
    assert "Headline number 3" not in answer.text
    assert "More ›" in [b["text"] for b in answer.buttons()]


async def test_latest_by_topic_and_count_in_either_order(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store_articles(
            [make_article(n, category="Russia" if n % 2 else "Economy news") for n in range(1, 9)]
        )
        [by_topic] = await bot.say("/latest russia 2")
        [reversed_args] = await bot.say("/latest 2 Russia")
    for answer in (by_topic, reversed_args):
        assert answer.text.startswith("Latest in Russia")
        assert "Headline number 7" in answer.text
        assert "Headline number 5" in answer.text
        assert "Headline number 8" not in answer.text


async def test_more_pages_on_in_place(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.store_articles([make_article(n) for n in range(1, 13)])
        [page] = await bot.say("/latest 5")
        more = next(b["callback_data"] for b in page.buttons() if b["text"] == "More ›")
        answer = await bot.press(page, more)
        edited = bot.tg.message(page)  # the double keeps one record per message, edited in place
        second_page = edited.text
        second_more = next(b["callback_data"] for b in edited.buttons() if b["text"] == "More ›")
        await bot.press(edited, second_more)
        last = bot.tg.message(page)
    assert answer.text is None
    assert last.edited
    assert "(6–10)" in second_page
    assert "Headline number 7" in second_page
    assert "Headline number 8" not in second_page
    assert "(11–12)" in last.text
    assert "Headline number 2" in last.text
    assert "More ›" not in [b["text"] for b in last.buttons()]


async def test_latest_with_bad_arguments_says_how(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [too_many] = await bot.say("/latest 99")
        [unknown] = await bot.say("/latest ecnomy")
        [extra] = await bot.say("/latest a b c")
    assert "Usage: /latest [topic] [n]" in too_many.text
    assert "Did you mean Economy?" in unknown.text
    assert "Usage: /latest" in extra.text


async def test_an_article_button_opens_the_article_message(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [article_id] = await bot.store_articles([SEED_LIKE])
        [listing] = await bot.say("/latest")
        await bot.press(listing, f"art:{article_id}")
        [article] = (await bot.tg.wait_for_messages(2, chat_id=bot.private.id))[1:]
    assert article.text.startswith("Putin underlines strategic partnership")
    assert "9 June 2018 12:34 (UTC+04:00) · Russia" in article.text
    assert "TASS via Azernews" in article.text
    assert "#russia" in article.text
    bold = [e for e in article.entities if e["type"] == "bold"]
    assert bold
    assert bold[0]["offset"] == 0
    labels = [b["text"] for b in article.buttons()]
    assert labels == ["Related", "Subscribe to Russia"]


async def test_the_article_subscribe_button_follows_its_topic(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [article_id] = await bot.store_articles([SEED_LIKE])
        [listing] = await bot.say("/latest")
        await bot.press(listing, f"art:{article_id}")
        article = (await bot.tg.wait_for_messages(2, chat_id=bot.private.id))[1]
        answer = await bot.press(article, "sub:russia")
        follows = await bot.store.subscriptions.of_chat(bot.private.id)
    assert answer.text == "Subscribed to Russia"
    assert follows == ["russia"]


async def test_a_button_whose_article_is_gone_has_expired(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [article_id] = await bot.store_articles([make_article(1)])
        [listing] = await bot.say("/latest")
        await bot.store.db.write(
            lambda conn: conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        )
        answer = await bot.press(listing, f"art:{article_id}")
        [again] = await bot.say("/latest")  # the bot is still answering
    assert answer.text == "This button has expired."
    assert "No articles" in again.text or "Latest news" in again.text


async def test_a_hostile_title_shows_as_text(tmp_path: Path) -> None:
    hostile = make_article(
        1, title="<script>alert(1)</script> Tom & Jerry <b>", body="x < y && y > z"
    )
    async with running_bot(tmp_path) as bot:
        [article_id] = await bot.store_articles([hostile])
        [listing] = await bot.say("/latest")
        await bot.press(listing, f"art:{article_id}")
        article = (await bot.tg.wait_for_messages(2, chat_id=bot.private.id))[1]
    assert "<script>alert(1)</script> Tom & Jerry <b>" in listing.text
    assert article.text.startswith("<script>alert(1)</script> Tom & Jerry <b>")
    assert "x < y && y > z" in article.text


async def test_a_50000_character_body_gives_one_valid_message(tmp_path: Path) -> None:
    body = ("Word " * 10_000).strip()
    async with running_bot(tmp_path) as bot:
        [article_id] = await bot.store_articles([make_article(1, body=body)])
        [listing] = await bot.say("/latest")
        await bot.press(listing, f"art:{article_id}")
        article = (await bot.tg.wait_for_messages(2, chat_id=bot.private.id))[1]
    # The double stores the text as Telegram parsed it, and refuses anything over 4096 units.
    assert 500 < len(article.text.encode("utf-16-le")) // 2 <= 4096
    assert "Word Word" in article.text
