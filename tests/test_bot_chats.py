"""The chats table follows what Telegram reports: added, removed, blocked, migrated."""

from __future__ import annotations

from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.render.messages import callback
from tests.harness import make_article, running_bot


async def test_added_to_a_group_then_kicked(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        owner = bot.tg.add_user("Owner")
        group = bot.tg.add_group("Readers", admins=[owner])
        bot.tg.my_chat_member(group, "left", "member", by=owner)
        await bot.tg.wait_for_updates_consumed()
        added = await wait_for_chat(bot, group.id, active=True)
        bot.tg.kick_bot(group, by=owner)
        kicked = await wait_for_chat(bot, group.id, active=False)
    assert added.type == "group"
    assert added.title == "Readers"
    assert kicked.inactive_reason == "bot was kicked from the group"


async def test_blocked_by_a_user_then_unblocked(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.say("/start")
        bot.tg.block_bot(bot.reader)
        blocked = await wait_for_chat(bot, bot.private.id, active=False)
        bot.tg.unblock_bot(bot.reader)
        back = await wait_for_chat(bot, bot.private.id, active=True)
    assert blocked.inactive_reason == "bot was blocked by the user"
    assert back.inactive_reason is None


async def test_a_group_that_becomes_a_supergroup_keeps_its_subscriptions(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        owner = bot.tg.add_user("Owner")
        group = bot.tg.add_group("Readers", admins=[owner])
        await bot.say("/subscribe@newsbot_test_bot economy", chat=group, user=owner)
        new_id = bot.tg.migrate_update(group, by=owner)
        await bot.tg.wait_for_updates_consumed()
        moved = await wait_for_chat(bot, new_id, active=True)
        follows = await bot.store.subscriptions.of_chat(new_id)
        old = await bot.store.chats.get(group.id)
    assert moved.type == "supergroup"
    assert follows == ["economy"]
    assert old is None


async def wait_for_chat(bot, chat_id: int, *, active: bool):  # type: ignore[no-untyped-def]
    """The store is written by the bot's handler; wait on the double's activity for it."""
    found = None

    async def check() -> bool:
        nonlocal found
        found = await bot.store.chats.get(chat_id)
        return found is not None and found.active == active

    for _ in range(200):
        if await check():
            return found
        await bot.tg.wait_for_updates_consumed()
        if await check():
            return found
        # The update was taken but the handler may still be writing; the next API call or
        # poll the bot makes marks its progress.
        await bot.tg.wait_for_call("getUpdates", count=len(bot.tg.calls("getUpdates")) + 1)
    raise AssertionError(f"chat {chat_id} never became active={active}: {found}")


async def test_a_chat_first_seen_through_an_unknown_command_is_recorded(tmp_path: Path) -> None:
    # Regression: the hint for unknown commands never recorded its chat.
    async with running_bot(tmp_path) as bot:
        [hint] = await bot.say("/nonsense")
        recorded = await bot.store.chats.get(bot.private.id)
    assert "/help" in hint.text
    assert recorded is not None
    assert recorded.type == "private"


async def test_a_chat_first_seen_through_an_article_button_is_recorded(tmp_path: Path) -> None:
    # Regression: article buttons never recorded their chat. A group whose row the store has
    # lost (restored from an older backup) still holds the bot's earlier messages.
    async with running_bot(tmp_path) as bot:
        [article_id] = await bot.store_articles([make_article(1)])
        owner = bot.tg.add_user("Owner")
        group = bot.tg.add_group("Readers", admins=[owner])
        button = InlineKeyboardButton("Related", callback_data=callback("rel", article_id))
        earlier = await bot.app.bot.send_message(
            group.id, "An article", reply_markup=InlineKeyboardMarkup([[button]])
        )
        assert await bot.store.chats.get(group.id) is None
        await bot.press(earlier, callback("rel", article_id), owner)
        recorded = await bot.store.chats.get(group.id)
    assert recorded is not None
    assert recorded.title == "Readers"
