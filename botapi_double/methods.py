"""The Bot API methods the double implements, working on a :class:`~botapi_double.state.BotState`.

Each handler gets the already validated parameters (see ``spec.py``) and returns the ``result``
of the answer, or raises :class:`~botapi_double.errors.ApiError` with Telegram's error. Methods
that are in the spec but have no handler here are answered by the server: ``True`` when the spec
says they return True, otherwise a 400 so that tests notice the gap.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from botapi_double.errors import ApiError, bad_request, conflict
from botapi_double.html import (
    EntityParseError,
    ParsedText,
    detect_entities,
    parse_html,
    trim,
    utf16_len,
)
from botapi_double.markdown import parse_markdown_legacy, parse_markdown_v2
from botapi_double.spec import UploadedFile
from botapi_double.state import (
    ALL_UPDATE_TYPES,
    DEFAULT_UPDATE_TYPES,
    BotState,
    CallbackAnswer,
    Chat,
    InlineAnswer,
    RecordedMessage,
    commands_key,
    utcnow,
)

__all__ = ["HANDLERS", "Context", "Described", "Handler", "format_text"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_UPLOAD = 50 * 1024 * 1024  # what a bot may send
MAX_DOWNLOAD = 20 * 1024 * 1024  # what getFile hands a bot
MAX_CALLBACK_TEXT = 200
MAX_INLINE_RESULTS = 50
MAX_COMMANDS = 100
MAX_DESCRIPTION = 512
MAX_SHORT_DESCRIPTION = 120
# "A two-letter ISO 639-1 language code", or empty for the default (the spec's words).
_LANGUAGE_CODE_RE = re.compile(r"^(?:[a-z]{2})?$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_WEB_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


@dataclass
class Described:
    """A successful result that Telegram answers with a ``description`` too (setWebhook)."""

    result: Any
    description: str


@dataclass
class _PollTicket:
    superseded: bool = False


@dataclass
class Context:
    """What handlers need besides their parameters."""

    state: BotState
    strict_html_entities: bool = True
    max_poll_timeout: float = 50.0
    closing: bool = False
    _poll: _PollTicket | None = field(default=None, repr=False)

    def begin_poll(self) -> _PollTicket:
        """Start a getUpdates; an overlapping older one is terminated with 409, as Telegram."""
        if self._poll is not None:
            self._poll.superseded = True
        self._poll = _PollTicket()
        self.state.updates_signal.notify()
        self.state.activity.notify()
        return self._poll

    def end_poll(self, ticket: _PollTicket) -> None:
        """Finish a getUpdates."""
        if self._poll is ticket:
            self._poll = None

    @property
    def polling(self) -> bool:
        """Whether a getUpdates is waiting right now."""
        return self._poll is not None


Handler = Callable[[Context, dict[str, Any]], Awaitable[Any]]


# -- text ------------------------------------------------------------------------------------------


def format_text(
    ctx: Context,
    text: str | None,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    empty: str = "message text is empty",
    too_long: str = "message is too long",
    limit: int = MAX_TEXT,
) -> ParsedText:
    """Parse, trim and measure a message text as Telegram does; raise 400 on failure."""
    text = text or ""
    if entities:
        parsed = ParsedText(text, [dict(e) for e in entities])
        total = utf16_len(text)
        for entity in parsed.entities:
            if entity["offset"] + entity["length"] > total:
                raise bad_request("entity end is out of bounds")  # double's wording
    elif parse_mode:
        mode = parse_mode.lower()
        try:
            if mode == "html":
                parsed = parse_html(text, strict_entities=ctx.strict_html_entities)
            elif mode == "markdownv2":
                parsed = parse_markdown_v2(text)
            elif mode == "markdown":
                parsed = parse_markdown_legacy(text)
            else:
                raise bad_request("unsupported parse_mode")
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    else:
        parsed = ParsedText(text, [])
    parsed = trim(parsed.text, parsed.entities)
    if not parsed.text:
        raise bad_request(empty)
    if utf16_len(parsed.text) > limit:
        raise bad_request(too_long)
    found = detect_entities(parsed.text, _resolve_mentions(ctx.state, parsed.entities))
    return ParsedText(parsed.text, found)


def _resolve_mentions(state: BotState, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    resolved: list[dict[str, Any]] = []
    for entity in entities:
        if entity["type"] == "text_mention":
            user = state.users.get(int(entity["user"]["id"]))
            if user is None:
                continue  # Telegram cannot mention a user it does not know
            entity = {**entity, "user": user.to_api()}
        resolved.append(entity)
    return resolved


# -- helpers ---------------------------------------------------------------------------------------


def _target_message(ctx: Context, params: dict[str, Any], action: str) -> RecordedMessage:
    if "inline_message_id" in params:
        raise bad_request("inline messages are not supported by the test double")
    if "chat_id" not in params:
        raise bad_request("chat_id is empty")
    if "message_id" not in params:
        raise bad_request("message identifier is not specified")
    chat = ctx.state.resolve_chat(params["chat_id"])
    ctx.state.check_can_send(chat)
    message = ctx.state.find_message(chat.id, params["message_id"])
    if message is None:
        raise bad_request(f"message to {action} not found")
    if not message.outgoing:
        raise bad_request(f"message can't be {action}ed")
    return message


def _apply_edit(
    message: RecordedMessage,
    text: str,
    entities: list[dict[str, Any]],
    markup: dict[str, Any] | None,
) -> None:
    if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
        raise bad_request(NOT_MODIFIED)
    message.history.append((message.text, message.entities, message.reply_markup))
    message.text, message.entities, message.reply_markup = text, entities, markup
    message.edited = True
    message.edit_date = utcnow()


def _chat(ctx: Context, params: dict[str, Any], *, send: bool) -> Chat:
    chat = ctx.state.resolve_chat(params["chat_id"])
    if send:
        ctx.state.check_can_send(chat)
        ctx.state.check_thread(chat, params.get("message_thread_id"))
    else:
        ctx.state.check_can_read(chat)
    return chat


def _check_link_preview(options: dict[str, Any] | None) -> None:
    """Link preview options that contradict themselves are refused (the double's wording:
    Telegram quietly picks one, which would hide a bug)."""
    if not options:
        return
    if options.get("is_disabled") and any(
        options.get(key) for key in ("url", "prefer_small_media", "prefer_large_media")
    ):
        raise bad_request("link preview options: is_disabled with a preview to show")
    if options.get("prefer_small_media") and options.get("prefer_large_media"):
        raise bad_request("link preview options: both prefer_small_media and prefer_large_media")
    url = options.get("url")
    if url is not None and not _WEB_URL.match(url):
        raise bad_request("link preview options: url is not an HTTP URL")


def _reply_target(ctx: Context, chat: Chat, params: dict[str, Any]) -> None:
    reply = params.get("reply_parameters")
    if reply is None:
        return
    reply_chat = chat
    if "chat_id" in reply:
        reply_chat = ctx.state.resolve_chat(reply["chat_id"])
    if ctx.state.find_message(reply_chat.id, reply["message_id"]) is None and not reply.get(
        "allow_sending_without_reply"
    ):
        raise bad_request("message to be replied not found")


def _caption(ctx: Context, params: dict[str, Any]) -> ParsedText:
    """A media message's caption, parsed and measured (1,024 units) as Telegram does."""
    caption = params.get("caption") or ""
    if not caption.strip():
        return ParsedText("", [])
    return format_text(
        ctx,
        caption,
        params.get("parse_mode"),
        params.get("caption_entities"),
        too_long="message caption is too long",
        limit=MAX_CAPTION,
    )


# -- handlers --------------------------------------------------------------------------------------


async def get_me(ctx: Context, params: dict[str, Any]) -> Any:
    """Return the bot's User."""
    me = ctx.state.bot.to_api()
    me.update(
        can_join_groups=True,
        can_read_all_group_messages=not ctx.state.privacy_mode,
        supports_inline_queries=True,
        can_connect_to_business=False,
        has_main_web_app=False,
    )
    return me


async def get_updates(ctx: Context, params: dict[str, Any]) -> Any:
    """Long-poll for updates: answer at once when some are queued, else wait up to timeout."""
    state = ctx.state
    if state.webhook_url:
        raise conflict(
            "can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first"
        )
    offset = params.get("offset", 0)
    if offset:
        state.confirm_updates(offset)
    limit = params.get("limit", 100)
    if not 1 <= limit <= 100:
        limit = 100
    if "allowed_updates" in params:
        wanted = frozenset(params["allowed_updates"])
        state.allowed_updates = (wanted & ALL_UPDATE_TYPES) or DEFAULT_UPDATE_TYPES
    timeout = min(max(float(params.get("timeout", 0)), 0.0), ctx.max_poll_timeout)
    ticket = ctx.begin_poll()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            if ticket.superseded:
                raise conflict(
                    "terminated by other getUpdates request; "
                    "make sure that only one bot instance is running"
                )
            ready = state.updates[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or ctx.closing:
                return [update.to_api() for update in ready]
            await state.updates_signal.wait(remaining)
    finally:
        ctx.end_poll(ticket)


async def set_webhook(ctx: Context, params: dict[str, Any]) -> Any:
    """Set (or with an empty url, remove) the webhook."""
    state = ctx.state
    url = params.get("url", "")
    if not url:
        return await delete_webhook(ctx, params)
    if not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret is not None and not _SECRET_RE.match(secret):
        raise bad_request("secret token contains unallowed characters")
    if params.get("drop_pending_updates"):
        state.updates.clear()
    if "allowed_updates" in params:
        wanted = frozenset(params["allowed_updates"])
        state.allowed_updates = (wanted & ALL_UPDATE_TYPES) or DEFAULT_UPDATE_TYPES
    unchanged = url == state.webhook_url and secret == state.webhook_secret
    state.webhook_url = url
    state.webhook_secret = secret
    state.webhook_max_connections = params.get("max_connections", 40)
    state.updates_signal.notify()
    return Described(True, "Webhook is already set" if unchanged else "Webhook was set")


async def delete_webhook(ctx: Context, params: dict[str, Any]) -> Any:
    """Remove the webhook, optionally dropping pending updates."""
    state = ctx.state
    if params.get("drop_pending_updates"):
        state.updates.clear()
    was_set = bool(state.webhook_url)
    state.webhook_url = ""
    state.webhook_secret = None
    state.updates_signal.notify()
    return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")


async def get_webhook_info(ctx: Context, params: dict[str, Any]) -> Any:
    """Describe the webhook."""
    state = ctx.state
    info: dict[str, Any] = {
        "url": state.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(state.updates),
    }
    if state.webhook_url:
        info["max_connections"] = state.webhook_max_connections
        if state.allowed_updates != DEFAULT_UPDATE_TYPES:
            info["allowed_updates"] = sorted(state.allowed_updates)
        if state.webhook_last_error is not None:
            moment, message = state.webhook_last_error
            info["last_error_date"] = int(moment.timestamp())
            info["last_error_message"] = message
    return info


async def send_message(ctx: Context, params: dict[str, Any]) -> Any:
    """Send a text message."""
    state = ctx.state
    chat = _chat(ctx, params, send=True)
    parsed = format_text(ctx, params.get("text"), params.get("parse_mode"), params.get("entities"))
    _check_link_preview(params.get("link_preview_options"))
    _reply_target(ctx, chat, params)
    message = state.record_outgoing(
        chat, text=parsed.text, entities=parsed.entities, params=params, method="sendMessage"
    )
    return state.message_api(message)


async def send_document(ctx: Context, params: dict[str, Any]) -> Any:
    """Send a file as a document: a multipart upload, or the file_id of a file sent before."""
    state = ctx.state
    chat = _chat(ctx, params, send=True)
    document = params["document"]
    if isinstance(document, UploadedFile):
        if not document.data:
            raise bad_request("file must be non-empty")
        if len(document.data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        stored = state.store_file(document.data, document.filename, document.content_type)
    else:
        known = state.files.get(document)
        if known is None:
            if document.startswith(("http://", "https://")):
                raise bad_request("sending files by URL is not supported by the test double")
            raise bad_request("wrong file identifier/HTTP URL specified")
        stored = known
    parsed = _caption(ctx, params)
    message = state.record_outgoing(
        chat, text=parsed.text, entities=parsed.entities, params=params, method="sendDocument"
    )
    message.document = stored
    return state.message_api(message)


async def send_photo(ctx: Context, params: dict[str, Any]) -> Any:
    """Send a photo: by URL (Telegram fetches it; see ``refuse_picture``), an upload, or the
    file_id of a photo sent before."""
    state = ctx.state
    chat = _chat(ctx, params, send=True)
    photo = params["photo"]
    url = None
    if isinstance(photo, UploadedFile):
        if not photo.data:
            raise bad_request("file must be non-empty")
        stored = state.store_file(photo.data, photo.filename, photo.content_type)
    elif photo in state.files:
        stored = state.files[photo]
    elif _WEB_URL.match(photo):
        refusal = state.refused_pictures.get(photo)
        if refusal is not None:
            raise ApiError(400, refusal)
        url = photo
        stored = state.store_file(f"picture at {photo}".encode(), None, "image/jpeg")
    else:
        raise bad_request("wrong file identifier/HTTP URL specified")
    parsed = _caption(ctx, params)
    _reply_target(ctx, chat, params)
    message = state.record_outgoing(
        chat, text=parsed.text, entities=parsed.entities, params=params, method="sendPhoto"
    )
    message.photo = [
        {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": 1280,
            "height": 720,
            "file_size": len(stored.data),
        }
    ]
    message.photo_url = url
    return state.message_api(message)


async def get_file(ctx: Context, params: dict[str, Any]) -> Any:
    """Describe a file and where to download it (``/file/bot<token>/<file_path>``)."""
    stored = ctx.state.files.get(params["file_id"])
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "file_path": stored.file_path,
    }


async def edit_message_text(ctx: Context, params: dict[str, Any]) -> Any:
    """Edit the text (and inline keyboard) of one of the bot's messages."""
    if not params.get("text") and "rich_message" not in params:
        raise bad_request("message text is empty")
    if "rich_message" in params:
        raise bad_request("rich messages are not supported by the test double")
    message = _target_message(ctx, params, "edit")
    if message.has_caption:
        raise bad_request("there is no text in the message to edit")
    parsed = format_text(ctx, params.get("text"), params.get("parse_mode"), params.get("entities"))
    _check_link_preview(params.get("link_preview_options"))
    _apply_edit(message, parsed.text, parsed.entities, params.get("reply_markup"))
    if params.get("parse_mode") is not None:
        message.parse_mode = params["parse_mode"]
    message.source_text = params.get("text")
    if "link_preview_options" in params:
        message.link_preview_options = params["link_preview_options"]
    return ctx.state.message_api(message)


async def edit_message_caption(ctx: Context, params: dict[str, Any]) -> Any:
    """Edit the caption (and inline keyboard) of one of the bot's photos or documents."""
    message = _target_message(ctx, params, "edit")
    if not message.has_caption:
        raise bad_request("there is no caption in the message to edit")
    parsed = _caption(ctx, params)
    _apply_edit(message, parsed.text, parsed.entities, params.get("reply_markup"))
    if params.get("parse_mode") is not None:
        message.parse_mode = params["parse_mode"]
    message.source_text = params.get("caption")
    return ctx.state.message_api(message)


async def edit_message_reply_markup(ctx: Context, params: dict[str, Any]) -> Any:
    """Replace (or without reply_markup, remove) the inline keyboard of a bot message."""
    message = _target_message(ctx, params, "edit")
    _apply_edit(message, message.text, message.entities, params.get("reply_markup"))
    return ctx.state.message_api(message)


async def delete_message(ctx: Context, params: dict[str, Any]) -> Any:
    """Delete a message."""
    chat = _chat(ctx, params, send=False)
    message = ctx.state.find_message(chat.id, params["message_id"])
    if message is None:
        raise bad_request("message to delete not found")
    if not message.outgoing and chat.type != "private" and chat.bot_status != "administrator":
        raise bad_request("message can't be deleted")
    message.deleted = True
    return True


async def send_chat_action(ctx: Context, params: dict[str, Any]) -> Any:
    """Show a chat action (typing...)."""
    _chat(ctx, params, send=True)
    if params["action"] not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


async def answer_callback_query(ctx: Context, params: dict[str, Any]) -> Any:
    """Answer a button press (once, and only while the query is fresh)."""
    text = params.get("text")
    if text is not None and len(text) > MAX_CALLBACK_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    record = ctx.state.take_callback_query(params["callback_query_id"])
    ctx.state.callback_answers.append(
        CallbackAnswer(
            query_id=record.id,
            text=text,
            show_alert=bool(params.get("show_alert", False)),
            url=params.get("url"),
            cache_time=int(params.get("cache_time", 0)),
            time=utcnow(),
        )
    )
    return True


async def answer_inline_query(ctx: Context, params: dict[str, Any]) -> Any:
    """Answer an inline query after checking the results like Telegram does."""
    state = ctx.state
    query_id = params["inline_query_id"]
    results: list[dict[str, Any]] = params["results"]
    if len(results) > MAX_INLINE_RESULTS:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        if result["id"] in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result["id"])
        content = result.get("input_message_content")
        if content is not None and "message_text" in content:
            format_text(
                ctx,
                content["message_text"],
                content.get("parse_mode"),
                content.get("entities"),
                empty="MESSAGE_EMPTY",
                too_long="MESSAGE_TOO_LONG",
            )
    record = state.take_inline_query(query_id)  # only a valid answer uses up the query
    state.inline_answers.append(
        InlineAnswer(
            query_id=record.id,
            results=results,
            cache_time=params.get("cache_time"),
            is_personal=bool(params.get("is_personal", False)),
            next_offset=params.get("next_offset"),
            button=params.get("button"),
            time=utcnow(),
        )
    )
    return True


def _language_code(params: dict[str, Any]) -> str:
    """The call's language_code, "" for none; Telegram refuses anything but two letters."""
    code: str = params.get("language_code") or ""
    if not _LANGUAGE_CODE_RE.match(code):
        raise bad_request("invalid language code specified")
    return code


def _scope_key(ctx: Context, params: dict[str, Any]) -> tuple[str, str]:
    _language_code(params)
    scope = params.get("scope")
    if scope is not None and "chat_id" in scope:
        chat = ctx.state.resolve_chat(scope["chat_id"])
        scope = {**scope, "chat_id": chat.id}
    return commands_key(scope, params.get("language_code"))


async def set_my_commands(ctx: Context, params: dict[str, Any]) -> Any:
    """Store the bot's command list for a scope and language after validating it."""
    commands: list[dict[str, str]] = params["commands"]
    if len(commands) > MAX_COMMANDS:
        raise bad_request("too many commands specified")
    for command in commands:
        if not _COMMAND_RE.match(command["command"]):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command["description"].strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    key = _scope_key(ctx, params)
    if commands:
        ctx.state.commands[key] = [dict(c) for c in commands]
    else:
        ctx.state.commands.pop(key, None)
    return True


async def delete_my_commands(ctx: Context, params: dict[str, Any]) -> Any:
    """Remove the bot's command list for a scope and language."""
    ctx.state.commands.pop(_scope_key(ctx, params), None)
    return True


async def get_my_commands(ctx: Context, params: dict[str, Any]) -> Any:
    """Return the command list stored for exactly this scope and language."""
    return [dict(c) for c in ctx.state.commands.get(_scope_key(ctx, params), [])]


def _set_description(
    texts: dict[str, str], params: dict[str, Any], field: str, limit: int
) -> Literal[True]:
    """Store one language's (short) description; an empty or missing one removes it."""
    code = _language_code(params)
    text: str = params.get(field) or ""
    if len(text) > limit:
        # Telegram counts characters here (the spec says "0-512 characters").
        raise bad_request(f"{field} is too long")
    if text:
        texts[code] = text
    else:
        texts.pop(code, None)
    return True


def _get_description(texts: dict[str, str], params: dict[str, Any]) -> str:
    """What a user of that language sees: its own text, else the default's, else none."""
    code = _language_code(params)
    return texts.get(code, texts.get("", ""))


async def set_my_description(ctx: Context, params: dict[str, Any]) -> Any:
    """Set the description shown in an empty chat with the bot, for one language."""
    return _set_description(ctx.state.descriptions, params, "description", MAX_DESCRIPTION)


async def get_my_description(ctx: Context, params: dict[str, Any]) -> Any:
    """Return BotDescription for a language."""
    return {"description": _get_description(ctx.state.descriptions, params)}


async def set_my_short_description(ctx: Context, params: dict[str, Any]) -> Any:
    """Set the short description of the bot's profile, for one language."""
    return _set_description(
        ctx.state.short_descriptions, params, "short_description", MAX_SHORT_DESCRIPTION
    )


async def get_my_short_description(ctx: Context, params: dict[str, Any]) -> Any:
    """Return BotShortDescription for a language."""
    return {"short_description": _get_description(ctx.state.short_descriptions, params)}


async def get_chat(ctx: Context, params: dict[str, Any]) -> Any:
    """Return ChatFullInfo."""
    chat = _chat(ctx, params, send=False)
    return ctx.state.chat_full_info(chat)


async def get_chat_member(ctx: Context, params: dict[str, Any]) -> Any:
    """Return the ChatMember of a user."""
    chat = _chat(ctx, params, send=False)
    user = ctx.state.users.get(params["user_id"])
    if user is None:
        raise bad_request("user not found")
    return ctx.state.chat_member_api(chat, user)


async def get_chat_administrators(ctx: Context, params: dict[str, Any]) -> Any:
    """Return the chat's creator and administrators, the bot included when it is one."""
    state = ctx.state
    chat = _chat(ctx, params, send=False)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    admins = [state.chat_member_api(chat, state.users[uid]) for uid in chat.admins()]
    if chat.bot_status == "administrator":
        admins.append(state.chat_member_api(chat, state.bot))
    return admins


async def get_chat_member_count(ctx: Context, params: dict[str, Any]) -> Any:
    """Return how many members the chat has (the bot included)."""
    chat = _chat(ctx, params, send=False)
    if chat.type == "private":
        return 2
    present = [s for s in chat.members.values() if s not in ("left", "kicked")]
    return len(present) + (1 if chat.bot_status not in ("left", "kicked") else 0)


async def return_true(ctx: Context, params: dict[str, Any]) -> Any:
    """Succeed without doing anything (close, logOut)."""
    return True


HANDLERS: dict[str, Handler] = {
    "getMe": get_me,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "sendMessage": send_message,
    "sendDocument": send_document,
    "sendPhoto": send_photo,
    "getFile": get_file,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "sendChatAction": send_chat_action,
    "answerCallbackQuery": answer_callback_query,
    "answerInlineQuery": answer_inline_query,
    "setMyCommands": set_my_commands,
    "deleteMyCommands": delete_my_commands,
    "getMyCommands": get_my_commands,
    "setMyDescription": set_my_description,
    "getMyDescription": get_my_description,
    "setMyShortDescription": set_my_short_description,
    "getMyShortDescription": get_my_short_description,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "getChatMemberCount": get_chat_member_count,
    "close": return_true,
    "logOut": return_true,
}


def unsupported(method: str) -> ApiError:
    """The answer for a spec method the double does not implement and that returns more
    than True."""
    return bad_request(f"method not supported by the test double ({method})")
