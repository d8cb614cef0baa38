"""End to end through the double: start-up, /start, /help, unknown commands, bad input."""

from __future__ import annotations

from pathlib import Path

from tests.harness import ADMIN_ID, running_bot


async def test_start_up_registers_the_command_menu(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        names = [c["command"] for c in bot.tg.commands]
    assert names[:3] == ["start", "latest", "related"]
    assert "help" in names
    assert "stats" not in names  # admin commands stay out of everyone's menu


async def test_start_welcomes_with_a_topic_keyboard(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [welcome] = await bot.say("/start")
    assert "Newsbot" in welcome.text
    labels = [b["text"] for row in welcome.reply_markup["inline_keyboard"] for b in row]
    assert "▫️ Economy" in labels
    assert "▫️ Central Asia" in labels


async def test_a_deep_link_subscribes_directly(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [answer] = await bot.say("/start sub_economy")
        follows = await bot.store.subscriptions.of_chat(bot.private.id)
    assert "Subscribed to Economy" in answer.text
    assert follows == ["economy"]


async def test_help_lists_every_command_and_admin_ones_for_admins(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [for_reader] = await bot.say("/help")
        admin_chat = bot.tg.chat(ADMIN_ID)
        [for_admin] = await bot.say("/help", chat=admin_chat, user=bot.admin)
    for command in ("/latest", "/related", "/search", "/subscribe", "/settings"):
        assert command in for_reader.text
    assert "/stats" not in for_reader.text
    assert "/stats" in for_admin.text
    assert "/addfeed" in for_admin.text


async def test_an_unknown_command_gets_a_hint(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [hint] = await bot.say("/frobnicate now")
    assert "/help" in hint.text


async def test_very_long_input_is_cut_not_echoed(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        [answer] = await bot.say("/subscribe " + "x" * 3000)
    assert "I don't know the topic" in answer.text
    assert len(answer.text) < 400
