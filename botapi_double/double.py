"""The test-facing API of the double: build a world, inject what users do, read back the bot's
calls, wait without sleeping, and inject faults.

In a test (same event loop)::

    async with BotApiDouble(token="123:ABC") as tg:
        bot = telegram.Bot("123:ABC", base_url=tg.base_url)
        alice = tg.add_user("Alice")
        chat = tg.add_private_chat(alice)
        tg.send_text(chat, alice, "/start")
        ...
        [reply] = await tg.wait_for_messages(1, chat_id=chat.id)

From sync code or another thread, :class:`ThreadedBotApiDouble` runs the same double in a thread
with its own event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from botapi_double.errors import ApiError
from botapi_double.faults import FaultRule
from botapi_double.server import BotApiServer
from botapi_double.spec import ApiSpec, load_spec
from botapi_double.state import (
    ApiCall,
    BotState,
    CallbackAnswer,
    Chat,
    InlineAnswer,
    MemberStatus,
    PendingUpdate,
    RecordedMessage,
    User,
    commands_key,
)

__all__ = ["BotApiDouble", "ThreadedBotApiDouble"]

T = TypeVar("T")
DEFAULT_TOKEN = "123456789:TEST-double-token"  # noqa: S105 - a fake token
_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class MessageRef(Protocol):
    """Anything naming a message: a RecordedMessage or python-telegram-bot's Message."""

    @property
    def chat_id(self) -> int: ...

    @property
    def message_id(self) -> int: ...


def _chat_id(chat: Chat | int | None) -> int | None:
    return chat.id if isinstance(chat, Chat) else chat


class BotApiDouble:
    """A strict Telegram Bot API server on 127.0.0.1 for one bot token.

    Args:
        token: the bot token the double accepts (``<bot id>:<secret>``).
        bot_username: the bot's @username (for ``/command@username``).
        privacy_mode: as Telegram's default, the bot gets only commands, replies to it and
            service messages from groups where it is not an admin.
        strict_html_entities: reject ``&nbsp;``-style entities Telegram would show raw.
        query_ttl: seconds a callback or inline query can be answered.
        port: 0 picks a free port; see :attr:`port` after start.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "newsbot_test_bot",
        bot_name: str = "Newsbot",
        host: str = "127.0.0.1",
        port: int = 0,
        privacy_mode: bool = True,
        strict_html_entities: bool = True,
        query_ttl: float = 15.0,
        max_poll_timeout: float = 50.0,
        spec: ApiSpec | None = None,
    ) -> None:
        self.token = token
        self.spec = spec or load_spec()
        self.state = BotState(
            token=token,
            bot_username=bot_username,
            bot_name=bot_name,
            privacy_mode=privacy_mode,
            query_ttl=query_ttl,
        )
        self.server = BotApiServer(
            self.state,
            self.spec,
            host=host,
            port=port,
            strict_html_entities=strict_html_entities,
            max_poll_timeout=max_poll_timeout,
        )

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Start serving; returns self."""
        await self.server.start()
        return self

    async def stop(self) -> None:
        """Stop serving and close every socket."""
        await self.server.stop()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port the double listens on."""
        if self.server.port is None:
            raise RuntimeError("the double is not running")
        return self.server.port

    @property
    def base_url(self) -> str:
        """The URL to give python-telegram-bot as ``base_url`` (ends in ``/bot``)."""
        return f"http://{self.server.host}:{self.port}/bot"

    def api_url(self, method: str) -> str:
        """The full URL of one method for this double's token."""
        return f"{self.base_url}{self.token}/{method}"

    @property
    def bot(self) -> User:
        """The bot's own user."""
        return self.state.bot

    # -- building the world ---------------------------------------------------------------------

    def add_user(
        self,
        first_name: str = "Alice",
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
        user_id: int | None = None,
    ) -> User:
        """Create a user."""
        return self.state.add_user(
            first_name,
            username=username,
            last_name=last_name,
            language_code=language_code,
            user_id=user_id,
        )

    def add_private_chat(self, user: User | None = None) -> Chat:
        """Open the private chat of ``user`` (a new user if omitted) with the bot."""
        return self.state.add_private_chat(user or self.add_user())

    def add_group(
        self,
        title: str = "Test group",
        *,
        admins: list[User] | None = None,
        members: list[User] | None = None,
        supergroup: bool = False,
        username: str | None = None,
        bot_is_admin: bool = False,
        forum: bool = False,
    ) -> Chat:
        """Create a group the bot is a member (or admin) of; ``admins[0]`` is the creator.
        ``forum``: a supergroup with topics (see :meth:`add_topic`)."""
        return self.state.add_group(
            title,
            admins=admins,
            members=members,
            supergroup=supergroup,
            username=username,
            bot_status="administrator" if bot_is_admin else "member",
            forum=forum,
        )

    def add_topic(self, chat: Chat | int, name: str) -> int:
        """Create a topic in a forum group; return its message_thread_id."""
        return self.state.add_forum_topic(self.chat(chat), name)

    def close_topic(self, chat: Chat | int, thread_id: int) -> None:
        """Close a forum topic: sends into it are answered ``Bad Request: TOPIC_CLOSED``."""
        self.state.forum_topic(self.chat(chat), thread_id).closed = True

    def reopen_topic(self, chat: Chat | int, thread_id: int) -> None:
        """Reopen a closed forum topic."""
        self.state.forum_topic(self.chat(chat), thread_id).closed = False

    def delete_topic(self, chat: Chat | int, thread_id: int) -> None:
        """Delete a forum topic: sends into it are answered ``message thread not found``."""
        self.state.forum_topic(self.chat(chat), thread_id).deleted = True

    def refuse_picture(
        self, url: str, description: str = "Bad Request: failed to get HTTP URL content"
    ) -> None:
        """Telegram cannot fetch this picture: sendPhoto with it as ``photo`` is answered 400
        with ``description`` (also "Bad Request: wrong file identifier/HTTP URL specified",
        "Bad Request: wrong type of the web page content")."""
        self.state.refused_pictures[url] = description

    def add_channel(
        self,
        username: str | None = "test_channel",
        *,
        title: str | None = None,
        bot_is_admin: bool = True,
        can_post_messages: bool = True,
        admins: list[User] | None = None,
    ) -> Chat:
        """Create a channel (the bot is an admin that may post unless told otherwise)."""
        return self.state.add_channel(
            username,
            title=title,
            bot_is_admin=bot_is_admin,
            can_post_messages=can_post_messages,
            admins=admins,
        )

    def chat(self, chat: Chat | int) -> Chat:
        """Return the chat object for a chat or its id."""
        if isinstance(chat, Chat):
            return chat
        return self.state.chats[chat]

    def _private_chat(self, user: User | int) -> Chat:
        uid = user.id if isinstance(user, User) else user
        chat = self.state.chats.get(uid)
        if chat is None or chat.type != "private":
            raise ValueError(f"user {uid} has no private chat with the bot")
        return chat

    def block_bot(self, user: User | int, *, notify: bool = True) -> None:
        """The user blocks the bot: sends fail with 403 (and a my_chat_member update)."""
        chat = self._private_chat(user)
        self._set_status(chat, "kicked", notify=notify)

    def unblock_bot(self, user: User | int, *, notify: bool = True) -> None:
        """The user unblocks (restarts) the bot."""
        chat = self._private_chat(user)
        self._set_status(chat, "member", notify=notify)

    def kick_bot(self, chat: Chat | int, *, notify: bool = True, by: User | None = None) -> None:
        """Remove the bot from a group or channel (status "kicked")."""
        self._set_status(self.chat(chat), "kicked", notify=notify, by=by)

    def set_bot_status(
        self, chat: Chat | int, status: MemberStatus, *, notify: bool = True
    ) -> None:
        """Set the bot's membership status in a chat (e.g. promote to "administrator")."""
        self._set_status(self.chat(chat), status, notify=notify)

    def _set_status(
        self, chat: Chat, status: MemberStatus, *, notify: bool, by: User | None = None
    ) -> None:
        if notify:
            self.state.my_chat_member(chat, chat.bot_status, status, by=by)
        else:
            chat.bot_status = status

    def deactivate_user(self, user: User) -> None:
        """Delete the user's account: sends fail with ``Forbidden: user is deactivated``."""
        user.deactivated = True

    def migrate_group(self, chat: Chat | int) -> int:
        """Upgrade a basic group to a supergroup (no updates); return the new chat id."""
        return self.state.migrate_group(self.chat(chat)).id

    # -- injecting what users do ----------------------------------------------------------------

    def send_text(
        self,
        chat: Chat | int,
        user: User | None,
        text: str,
        *,
        reply_to: MessageRef | None = None,
        entities: list[dict[str, Any]] | None = None,
        thread: int | None = None,
    ) -> RecordedMessage:
        """A user writes ``text`` in ``chat``; commands get bot_command entities.

        The message is queued as an update (or posted to the webhook) when the bot would
        receive it. In a channel pass ``user=None`` for a post signed by the channel. In a
        forum, ``thread`` is the topic it is written in (None: the General topic).
        """
        replied = self.message(reply_to) if reply_to is not None else None
        message, _ = self.state.user_message(
            self.chat(chat), user, text, reply_to=replied, entities=entities, thread=thread
        )
        return message

    def send_document(
        self,
        chat: Chat | int,
        user: User,
        data: bytes,
        *,
        file_name: str | None,
        mime_type: str | None = None,
        caption: str = "",
    ) -> RecordedMessage:
        """A user sends a file as a document; the bot can getFile it and download the bytes."""
        message, _ = self.state.user_document(
            self.chat(chat), user, data, file_name=file_name, mime_type=mime_type, caption=caption
        )
        return message

    def file(self, file_id: str) -> bytes:
        """The bytes of a file on the double: one the bot uploaded, or one a user sent."""
        return self.state.files[file_id].data

    def message(self, ref: MessageRef) -> RecordedMessage:
        """Return the recorded message for a RecordedMessage or a PTB Message."""
        found = self.state.messages.get((ref.chat_id, ref.message_id))
        if found is None:
            raise ValueError(f"no message {ref.message_id} in chat {ref.chat_id}")
        return found

    def reply_to(self, message: MessageRef, text: str, user: User | None = None) -> RecordedMessage:
        """A user replies to ``message`` (by default the private chat's user)."""
        chat = self.chat(message.chat_id)
        author = user or chat.user
        if author is None:
            raise ValueError("pass the user who replies in a group")
        return self.send_text(chat, author, text, reply_to=self.message(message))

    def press_button(
        self, message: MessageRef, callback_data: str, user: User | None = None
    ) -> str:
        """A user presses the inline button with ``callback_data`` on a bot message (a
        RecordedMessage or the PTB Message a send returned); return the query id."""
        chat = self.chat(message.chat_id)
        presser = user or chat.user
        if presser is None:
            raise ValueError("pass the user who presses the button in a group")
        return self.state.callback_query(self.message(message), callback_data, presser)

    def inline_query(self, user: User, query: str, *, offset: str = "") -> str:
        """A user types ``@bot query``; return the inline query id."""
        return self.state.inline_query(user, query, offset=offset)

    def my_chat_member(
        self,
        chat: Chat | int,
        old_status: MemberStatus,
        new_status: MemberStatus,
        *,
        by: User | None = None,
    ) -> dict[str, Any] | None:
        """Change the bot's status in a chat and queue the my_chat_member update.

        E.g. ``("left", "member")`` for "added to a group", ``("member", "kicked")`` in a private
        chat for "blocked by the user". Returns the Update (None if filtered out).
        """
        update = self.state.my_chat_member(self.chat(chat), old_status, new_status, by=by)
        return None if update is None else update.to_api()

    def migrate_update(self, chat: Chat | int, *, by: User | None = None) -> int:
        """Migrate a group and queue Telegram's two service messages
        (``migrate_to_chat_id`` in the old chat, ``migrate_from_chat_id`` in the new one);
        return the new chat id."""
        group = self.chat(chat)
        self.state.migration_messages(group, by=by)
        assert group.migrated_to is not None
        return group.migrated_to

    # -- reading back ------------------------------------------------------------------------------

    def sent(self, chat_id: Chat | int | None = None) -> list[RecordedMessage]:
        """The bot's messages (current content; see ``history`` for edits), oldest first."""
        return self.state.sent(_chat_id(chat_id))

    def calls(self, method: str | None = None) -> list[ApiCall]:
        """Every call made to the double (optionally of one method), oldest first."""
        if method is None:
            return list(self.state.calls)
        return self.state.calls_of(method)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Recorded answerCallbackQuery calls."""
        return list(self.state.callback_answers)

    @property
    def inline_answers(self) -> list[InlineAnswer]:
        """Recorded answerInlineQuery calls."""
        return list(self.state.inline_answers)

    @property
    def commands(self) -> list[dict[str, str]]:
        """The bot's commands for the default scope and no language."""
        return self.commands_for()

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str | None = None
    ) -> list[dict[str, str]]:
        """The bot's commands for a scope (a BotCommandScope dict) and language."""
        return list(self.state.commands.get(commands_key(scope, language_code), []))

    def description(self, language_code: str = "") -> str | None:
        """The description set for exactly this language ("" the default), or None."""
        return self.state.descriptions.get(language_code)

    def short_description(self, language_code: str = "") -> str | None:
        """The short description set for exactly this language ("" the default), or None."""
        return self.state.short_descriptions.get(language_code)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by getUpdates nor delivered to the webhook."""
        return [u.to_api() for u in self.state.updates]

    @property
    def polling(self) -> bool:
        """Whether a getUpdates long poll is waiting right now (see :meth:`wait_for`)."""
        return self.server.ctx.polling

    @property
    def too_many_requests(self) -> int:
        """How many calls the flood limits answered with 429."""
        return self.server.limits.hits

    # -- waiting -----------------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the test-facing API
        *,
        what: str = "condition",
    ) -> None:
        """Wait until ``predicate()`` holds, re-checking after every call; no polling sleeps.

        Raises AssertionError, listing what the bot sent and called, on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0 or not await self.state.activity.wait(remaining):
                if predicate():
                    return
                raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self}")

    async def wait_for_messages(
        self,
        n: int,
        chat_id: Chat | int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[RecordedMessage]:
        """Wait until the bot has sent at least ``n`` messages (to ``chat_id``); return them."""
        target = _chat_id(chat_id)
        where = "" if target is None else f" to chat {target}"
        await self.wait_for(
            lambda: self.state.sent_count(target) >= n,
            timeout,
            what=f"{n} message(s){where}",
        )
        return self.state.sent(target)

    async def wait_for_call(
        self,
        method: str,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        count: int = 1,
        predicate: Callable[[ApiCall], bool] | None = None,
    ) -> ApiCall:
        """Wait for the ``count``-th call of ``method`` (matching ``predicate``); return it."""

        def matching() -> list[ApiCall]:
            return [c for c in self.calls(method) if predicate is None or predicate(c)]

        await self.wait_for(
            lambda: len(matching()) >= count, timeout, what=f"{count} call(s) of {method}"
        )
        return matching()[count - 1]

    async def wait_for_updates_consumed(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until no injected update is pending (polled or delivered)."""
        await self.wait_for(lambda: not self.state.updates, timeout, what="updates consumed")

    def __str__(self) -> str:
        lines = ["Bot API double:", "  sent messages:"]
        for message in self.state.outgoing[-20:]:
            flags = " (edited)" if message.edited else ""
            flags += " (deleted)" if message.deleted else ""
            lines.append(
                f"    chat {message.chat_id} #{message.message_id}{flags}: {message.text[:80]!r}"
            )
        if not self.state.outgoing:
            lines.append("    (none)")
        lines.append("  last calls:")
        for call in self.state.calls[-20:]:
            detail = "" if call.ok else f" -> {call.description or call.fault}"
            lines.append(f"    {call.method} [{call.status}]{detail}")
        if not self.state.calls:
            lines.append("    (none)")
        lines.append(f"  pending updates: {len(self.state.updates)}")
        return "\n".join(lines)

    # -- faults ------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None,
        chat_id: Chat | int | None = None,
        *,
        error_code: int = 400,
        description: str = "Bad Request: injected failure",
        parameters: dict[str, Any] | None = None,
        count: int = 1,
    ) -> FaultRule:
        """Answer the next ``count`` calls of ``method`` (to ``chat_id``) with this error.

        The call has no effect. E.g. ``fail_next("sendMessage", error_code=403,
        description="Forbidden: bot was blocked by the user")``.
        """
        error = ApiError(error_code, description, parameters)
        rule = FaultRule("error", method, _chat_id(chat_id), count=count, error=error)
        return self.server.faults.add(rule)

    def inject_5xx(
        self,
        method: str | None = None,
        *,
        status: int = 502,
        count: int = 1,
        html: bool = True,
        chat_id: Chat | int | None = None,
    ) -> FaultRule:
        """Answer the next call(s) with a server error; ``html=True`` sends the nginx page
        Telegram's front-end sends on 502, otherwise a JSON error body."""
        description = {500: "Internal Server Error", 502: "Bad Gateway"}.get(status, "Error")
        rule = FaultRule(
            "error",
            method,
            _chat_id(chat_id),
            count=count,
            error=ApiError(status, description),
            raw_body=_HTML_502.replace(b"502 Bad Gateway", f"{status} {description}".encode())
            if html
            else None,
            content_type="text/html",
        )
        return self.server.faults.add(rule)

    def inject_timeout(
        self,
        method: str | None,
        seconds: float,
        *,
        count: int = 1,
        executed: bool = True,
        chat_id: Chat | int | None = None,
    ) -> FaultRule:
        """Delay the answer to the next call(s) by ``seconds``.

        ``executed=True``: the call takes effect at once and only the answer is late (a client
        that times out has still sent the message). ``executed=False``: the call waits first
        and takes effect only if the client is still connected then.
        """
        rule = FaultRule(
            "delay", method, _chat_id(chat_id), count=count, delay=seconds, executed=executed
        )
        return self.server.faults.add(rule)

    def drop_connection(
        self,
        method: str | None,
        *,
        count: int = 1,
        executed: bool = False,
        chat_id: Chat | int | None = None,
    ) -> FaultRule:
        """Close the socket of the next call(s) without answering (``executed``: the call
        still takes effect before the connection drops)."""
        rule = FaultRule("drop", method, _chat_id(chat_id), count=count, executed=executed)
        return self.server.faults.add(rule)

    def clear_faults(self) -> None:
        """Remove every pending injected fault."""
        self.server.faults.clear()

    def set_rate_limits(
        self,
        global_per_second: int | None = 30,
        per_private_chat_per_second: int | None = 1,
        per_group_per_minute: int | None = 20,
        *,
        paid_per_second: int | None = 1000,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Enforce Telegram's flood limits on message-sending methods (None disables one).

        Windows slide and are measured at the double; a call over a limit is answered
        ``429 Too Many Requests: retry after N`` and counted in :attr:`too_many_requests`.
        A message sent with ``allow_paid_broadcast`` is under ``paid_per_second`` overall
        instead of ``global_per_second`` (the Bot API: "up to 1000 messages per second,
        ignoring broadcasting limits for a fee"); its chat's own limit still applies, and
        every message, paid or not, counts against ``paid_per_second``.
        """
        self.server.limits.configure(
            global_per_second=global_per_second,
            per_private_chat_per_second=per_private_chat_per_second,
            per_group_per_minute=per_group_per_minute,
            paid_per_second=paid_per_second,
            methods=methods,
        )

    def pending_update(self, update_id: int) -> PendingUpdate | None:
        """Return a pending update by id."""
        return next((u for u in self.state.updates if u.update_id == update_id), None)


class ThreadedBotApiDouble:
    """A :class:`BotApiDouble` served from a background thread with its own event loop.

    For sync code (and the ``python -m botapi_double`` entry point)::

        with ThreadedBotApiDouble(token="123:ABC") as runner:
            alice = runner.call(lambda tg: tg.add_private_chat(tg.add_user("Alice")))
            ...  # point a bot at runner.base_url
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._double: BotApiDouble | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def double(self) -> BotApiDouble:
        """The running double (touch it only through :meth:`call` / :meth:`run`)."""
        if self._double is None:
            raise RuntimeError("the double is not running")
        return self._double

    @property
    def base_url(self) -> str:
        """See :attr:`BotApiDouble.base_url`."""
        return self.double.base_url

    @property
    def port(self) -> int:
        """See :attr:`BotApiDouble.port`."""
        return self.double.port

    def start(self, timeout: float = 10.0) -> Self:
        """Start the thread and wait until the double serves."""
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._main, args=(started,), name="botapi-double", daemon=True
        )
        self._thread.start()
        started.result(timeout)
        return self

    def _main(self, started: concurrent.futures.Future[None]) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            try:
                double = BotApiDouble(**self._kwargs)
                await double.start()
            except BaseException as exc:
                started.set_exception(exc)
                return
            self._double = double
            started.set_result(None)
            try:
                await self._stopped.wait()
            finally:
                await double.stop()

        asyncio.run(serve())

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the double and join the thread."""
        if self._loop is not None and self._stopped is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout)
        self._thread = None
        self._loop = None
        self._double = None

    def call(self, fn: Callable[[BotApiDouble], T], timeout: float = 10.0) -> T:
        """Run ``fn(double)`` in the double's thread and return its result."""
        return self.run(lambda tg: _as_coroutine(fn(tg)), timeout)

    def run(self, fn: Callable[[BotApiDouble], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run the coroutine ``fn(double)`` (e.g. ``lambda tg: tg.wait_for_messages(1)``)
        in the double's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("the double is not running")
        double = self.double

        async def runner() -> T:
            return await fn(double)

        return asyncio.run_coroutine_threadsafe(runner(), self._loop).result(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def _as_coroutine(value: T) -> T:
    return value
