"""Following and muting words, through the Bot API double and a real store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.settings import DeliveryConfig
from storage import NewArticle
from tests.harness import FakeClock, RunningBot, running_bot
from tests.support.store import harness_store
from tests.test_bot_hostile_input import press_forged, tracebacks
from tests.test_delivery import NOW, fresh, headline_numbers, headline_numbers_all

# Every test here exercises the store through the bot: once on each backend.
pytestmark = pytest.mark.both_stores

EXPIRED = "This button has expired."


def item(n: int, topic: str, title: str = "", **changes: object) -> NewArticle:
    """A fresh article whose title ends in its number, with ``title`` before it."""
    return fresh(n, topic, title=f"{title} Headline number {n}".strip(), **changes)


def owed_articles(tmp_path: Path, chat_id: int) -> list[tuple[int, str]]:
    with harness_store(tmp_path) as conn:
        return conn.execute(
            "SELECT article_id, status FROM deliveries WHERE chat_id = ? ORDER BY article_id",
            (chat_id,),
        ).fetchall()


def labels(message) -> list[str]:  # type: ignore[no-untyped-def]
    return [b["text"] for b in message.buttons()]


def button_data(message, label: str) -> str:  # type: ignore[no-untyped-def]
    return next(b["callback_data"] for b in message.buttons() if b["text"] == label)


async def test_a_followed_word_delivers_each_matching_article_once(tmp_path: Path) -> None:
    async with running_bot(tmp_path, clock=FakeClock(NOW)) as bot:
        [subscribed] = await bot.say("/subscribe economy")
        [followed] = await bot.say("/follow Inflation “central bank”")
        await bot.publish(
            [
                # Economy news that also holds a followed word: one message, not two.
                item(1, "economy", "Inflation rises again"),
                item(2, "russia", body="The CENTRAL\n  Bank held its rate."),
                item(3, "russia", body="Inflationary pressure eased."),  # not a whole word
                item(4, "russia", "Central Asia", body="A bank opened."),
                item(5, "russia", summary="Ещё", body="Banking news; central banking."),
            ]
        )
        await bot.publish([item(6, "economy")])  # owed after the others: proves they are done
        sent = await bot.tg.wait_for_messages(2 + 3, chat_id=bot.private.id)
        owed = owed_articles(tmp_path, bot.private.id)
    assert subscribed.text == "Subscribed to Economy."
    assert followed.text == 'Following inflation, "central bank".'
    assert headline_numbers([m.text for m in sent[2:]]) == [1, 2, 6]
    assert [article for article, _ in owed] == [1, 2, 6]


async def test_a_muted_word_withholds_articles_from_topics_follows_and_backlogs(
    tmp_path: Path,
) -> None:
    limits = DeliveryConfig(new_subscriber_backlog=5)
    async with running_bot(tmp_path, clock=FakeClock(NOW), delivery=limits) as bot:
        await bot.store_articles([item(1, "economy", body="Old news about the transfer window.")])
        await bot.store_articles([item(2, "economy", body="Old news about prices.")])
        [muted] = await bot.say('/mute "transfer window" crypto')
        # The backlog a subscription brings leaves the muted article out.
        await bot.say("/subscribe economy", replies=2)
        await bot.say("/follow election", replies=1)
        await bot.publish(
            [
                item(3, "economy", body="The transfer   window closes tonight."),
                item(4, "russia", "Election day", body="Crypto donations questioned."),
                item(5, "russia", "Election results"),
            ]
        )
        await bot.publish([item(6, "economy")])
        sent = await bot.tg.wait_for_messages(6, chat_id=bot.private.id)
        owed = owed_articles(tmp_path, bot.private.id)
    assert muted.text == (
        'Muted "transfer window", crypto: articles holding them are not sent here.'
    )
    delivered = [m.text for m in sent if "Headline number" in m.text]
    assert sorted(headline_numbers(delivered)) == [2, 5, 6]
    assert [article for article, _ in owed] == [2, 5, 6]


async def test_a_digest_leaves_out_muted_articles_owed_before_and_after_the_mute(
    tmp_path: Path,
) -> None:
    clock = FakeClock(NOW)
    async with running_bot(tmp_path, clock=clock) as bot:
        await bot.say("/subscribe economy")
        await bot.say("/settings digest 13:00")
        await bot.store.chats.digest_sent(bot.private.id, int(NOW.timestamp()))  # today's is due
        await bot.publish([item(1, "economy", body="Bitcoin hits a record."), item(2, "economy")])
        await bot.say("/mute bitcoin")  # the digest has not gone yet: 1 is withheld
        await bot.publish([item(3, "economy", "Bitcoin again"), item(4, "economy")])
        clock.now = NOW.replace(hour=13, minute=1)
        digests = bot.app.job_queue.get_jobs_by_name("digests")
        await digests[0].run(bot.app)
        [digest] = (await bot.tg.wait_for_messages(4, chat_id=bot.private.id))[3:]
        owed = dict(owed_articles(tmp_path, bot.private.id))
    assert digest.text.startswith("Your digest: 2 new articles")
    assert sorted(headline_numbers_all([digest])) == [2, 4]
    assert owed == {1: "cancelled", 2: "sent", 4: "sent"}


async def test_limits_are_answered_in_one_line_with_an_example(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [empty] = await bot.say("/follow")
        [quotes] = await bot.say('/follow ""')
        [long] = await bot.say("/follow " + "a" * 65)
        [symbols] = await bot.say("/mute +++")
        [fifty] = await bot.say("/follow " + " ".join(f"w{n}" for n in range(49)))
        [over] = await bot.say("/mute one two")
        [regex] = await bot.say("/follow (a+)+$")
        words = await bot.store.words.of_chat(bot.private.id)
    for answer in (empty, quotes, long, symbols):
        assert "\n" not in answer.text
        assert "for example: /" in answer.text.lower()
    assert empty.text == 'Name the words, for example: /follow inflation "central bank"'
    assert "65 characters; a word or phrase may have 64" in long.text
    assert "has no letter or digit" in symbols.text
    assert fifty.text.startswith("Following w0, w1")
    assert over.text == (
        "Muted one: articles holding them are not sent here."
        " Not added: two; a chat may have 50 words (/unfollow or /unmute some first)."
    )
    # Taken as literal text, never as a pattern.
    assert (
        regex.text
        == "Not added: (a+)+$; a chat may have 50 words (/unfollow or /unmute some first)."
    )
    assert len(words) == 50


async def test_in_a_group_only_admins_change_words(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        owner = bot.tg.add_user("Owner")
        member = bot.tg.add_user("Member")
        group = bot.tg.add_group("Readers", admins=[owner], members=[member])
        [refused] = await bot.say("/follow@newsbot_test_bot oil", chat=group, user=member)
        [refused_mute] = await bot.say("/mute@newsbot_test_bot oil", chat=group, user=member)
        [done] = await bot.say("/follow@newsbot_test_bot oil", chat=group, user=owner)
        [listed] = await bot.say("/subscriptions@newsbot_test_bot", chat=group, user=member)
        pressed = await bot.press(listed, button_data(listed, "✖ Unfollow oil"), member)
        words = await bot.store.words.of_chat(group.id)
    assert (
        refused.text == refused_mute.text == "Only this group's admins can change what it follows."
    )
    assert done.text == "Following oil."
    assert pressed.text == "Only this group's admins can change what it follows."
    assert [w.word for w in words] == ["oil"]


async def test_subscriptions_list_words_with_buttons_that_remove_them(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.say("/subscribe economy")
        await bot.say('/follow inflation "central bank"')
        await bot.say("/mute crypto")
        [listed] = await bot.say("/subscriptions")
        first_text, first_labels = listed.text, labels(listed)
        pressed = await bot.press(listed, button_data(listed, "✖ Unfollow inflation"))
        after_press = labels(bot.tg.message(listed))
        # A topic toggle in the same message keeps the word buttons.
        await bot.press(bot.tg.message(listed), "tog:russia")
        after_toggle = labels(bot.tg.message(listed))
        [unmuted] = await bot.say("/unmute crypto")
        [gone] = await bot.say("/unfollow all")
        [nothing] = await bot.say("/unfollow oil")
        words = await bot.store.words.of_chat(bot.private.id)
    assert first_text == (
        "This chat follows Economy.\n"
        'Words followed: "central bank", inflation.\n'
        "Words muted: crypto. Tap to change:"
    )
    assert {"✅ Economy", '✖ Unfollow "central bank"', "✖ Unfollow inflation"} <= set(first_labels)
    assert "✖ Unmute crypto" in first_labels
    assert pressed.text == "Stopped following inflation"
    assert "✖ Unfollow inflation" not in after_press
    assert "✖ Unmute crypto" in after_press
    assert "✅ Russia" in after_toggle
    assert "✖ Unmute crypto" in after_toggle
    assert unmuted.text == "Unmuted crypto."
    assert gone.text == 'Stopped following "central bank".'
    assert nothing.text == "This chat was not following oil."
    assert words == []


async def test_forged_word_buttons_remove_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as bot:
        other = await other_chat_with_word(bot)
        await bot.say("/follow inflation")
        theirs = (await bot.store.words.of_chat(other))[0].id
        answers = [
            await press_forged(bot, data)
            for data in (
                f"wrd:{theirs}",  # another chat's word
                "wrd:0",
                "wrd:-1",
                "wrd:99999999999999999999",
                "wrd:1:2",
                "wrd:١",
                "wrd:",
                "wrd:%3A1",
            )
        ]
        mine = await bot.store.words.of_chat(bot.private.id)
        their_words = await bot.store.words.of_chat(other)
    assert answers == [EXPIRED] * len(answers)
    assert [w.word for w in mine] == ["inflation"]
    assert [w.word for w in their_words] == ["oil"]
    assert tracebacks(caplog) == []


async def other_chat_with_word(bot: RunningBot) -> int:
    chat = await bot.add_reader("Other", [])
    await bot.store.words.add(chat.id, "follow", ["oil"], 0)
    return chat.id
