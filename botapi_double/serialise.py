"""Bot API objects built from the double's records where one record is not enough.

A ``Message`` names its chat, sender chat and replied-to message; a ``ChatMember`` depends on
the status; ``ChatFullInfo`` adds the fields getChat answers with.
"""

from __future__ import annotations

import json
from typing import Any

from botapi_double.model import Chat, MemberStatus, RecordedMessage, User, unix

__all__ = ["chat_full_info", "chat_member", "message_api"]


def chat_member(user: User, status: MemberStatus, *, can_post: bool = True) -> dict[str, Any]:
    """Build a Bot API ``ChatMember`` object of the given status."""
    member: dict[str, Any] = {"status": status, "user": user.to_api()}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_post_messages=can_post,
            can_edit_messages=can_post,
            can_pin_messages=True,
        )
    elif status == "restricted":
        member.update(
            is_member=True,
            can_send_messages=False,
            can_send_audios=False,
            can_send_documents=False,
            can_send_photos=False,
            can_send_videos=False,
            can_send_video_notes=False,
            can_send_voice_notes=False,
            can_send_polls=False,
            can_send_other_messages=False,
            can_add_web_page_previews=False,
            can_change_info=False,
            can_invite_users=False,
            can_pin_messages=False,
            can_manage_topics=False,
            until_date=0,
        )
    elif status == "kicked":
        member["until_date"] = 0
    return member


def chat_full_info(chat: Chat) -> dict[str, Any]:
    """Return the Bot API ``ChatFullInfo`` of ``chat``."""
    info = chat.to_api()
    info.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    )
    return info


def message_api(
    chats: dict[int, Chat],
    messages: dict[tuple[int, int], RecordedMessage],
    message: RecordedMessage,
    *,
    with_reply: bool = True,
) -> dict[str, Any]:
    """Return the Bot API ``Message`` object for a recorded message."""
    chat = chats[message.chat_id]
    result: dict[str, Any] = {"message_id": message.message_id}
    if message.from_user is not None:
        result["from"] = message.from_user.to_api()
    if message.sender_chat_id is not None:
        result["sender_chat"] = chats[message.sender_chat_id].to_api()
    result["date"] = unix(message.date)
    result["chat"] = chat.to_api()
    if message.message_thread_id is not None:
        result["message_thread_id"] = message.message_thread_id
        if chat.is_forum:
            result["is_topic_message"] = True
    if message.reply_to_message_id is not None and with_reply:
        replied = messages.get((message.chat_id, message.reply_to_message_id))
        if replied is not None:
            result["reply_to_message"] = message_api(chats, messages, replied, with_reply=False)
    if message.edit_date is not None:
        result["edit_date"] = unix(message.edit_date)
    if message.document is not None:
        result["document"] = message.document.document_api()
    if message.photo is not None:
        result["photo"] = [dict(size) for size in message.photo]
    text_key, entities_key = (
        ("caption", "caption_entities") if message.has_caption else ("text", "entities")
    )
    if message.text:
        result[text_key] = message.text
        if message.entities:
            result[entities_key] = [dict(e) for e in message.entities]
    if message.link_preview_options:
        result["link_preview_options"] = dict(message.link_preview_options)
    if message.reply_markup and "inline_keyboard" in message.reply_markup:
        result["reply_markup"] = json.loads(json.dumps(message.reply_markup))
    result.update(message.service)
    return result
