"""python-telegram-bot's HTTP transport on aiohttp.

PTB's default transport (httpx) costs ~1 ms of CPU per Bot API call, which caps one process near
900 messages/s; aiohttp costs ~0.2 ms (measured on 2 cores against a local server that answers at
once; ``bench/delivery.py`` measures the whole bot on it). PTB lets the transport be swapped through
``BaseRequest``; everything above it (retries, error mapping, rate limiting) stays PTB's own.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import aiohttp
from telegram import InlineKeyboardMarkup, LinkPreviewOptions
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.ratelimit import BULK

USER_AGENT = "newsbot (python-telegram-bot, aiohttp)"
JSON_HEADERS = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` over one ``aiohttp.ClientSession`` with a bounded connection pool."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 64,
        read_timeout: float | None = 15.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        # aiohttp has no write or pool timeouts of its own: waiting for a pooled connection
        # counts against connect + pool, and a stalled answer against the per-read timeout.
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if connect is None else connect + (pool or 0),
            sock_read=read,
        )
        body: Any = None
        headers = None
        encoded = request_data.parameters.get(ENCODED_BODY) if request_data is not None else None
        if isinstance(encoded, bytes):
            body, headers = encoded, JSON_HEADERS
        elif request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, part in files.items():
                    filename, content, mimetype = _file_part(part)
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                body = form
            elif request_data.parameters:
                # One JSON body: the Bot API takes it, and it costs a fraction of form-encoding
                # every nested object as a JSON string and then URL-quoting it.
                body = json.dumps(request_data.parameters).encode()
                headers = JSON_HEADERS
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as err:
            # No connection, so nothing was sent: safe to send again.
            if isinstance(err, TimeoutError):
                raise TimedOut from err
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
        except TimeoutError as err:
            raise AnswerTimedOut from err
        except aiohttp.ClientError as err:
            raise AnswerLost(f"aiohttp.{type(err).__name__}: {err}") from err


# The one parameter of a request whose JSON body is encoded already (``NewsbotBot.send_bulk``):
# RequestData is final, so the body travels as a parameter that ``do_request`` looks for.
ENCODED_BODY = "__newsbot_encoded_body__"


def encoded_request(body: bytes) -> RequestData:
    return RequestData([RequestParameter(ENCODED_BODY, body, None)])


class AnswerLost(NetworkError):
    """The request was sent and its answer never came (connection dropped): Telegram may have
    carried it out. Sending again may repeat it."""


class AnswerTimedOut(TimedOut, AnswerLost):
    """The request was sent and no answer came within the read timeout (it may have arrived)."""


def _file_part(part: Any) -> tuple[str | None, Any, str | None]:
    if isinstance(part, tuple):
        filename = part[0] if len(part) > 0 else None
        content = part[1] if len(part) > 1 else b""
        mimetype = part[2] if len(part) > 2 else None
        return filename, content, mimetype
    return None, part, None


# A bulk text message as sent to every chat: text, parse mode, keyboard, no preview, the
# large preview's picture, forum thread.
_BulkText = tuple[str, str | None, InlineKeyboardMarkup | None, bool, str | None, int | None]
BODY_CACHE = 1024  # bulk messages whose encoded body is kept (a fan-out sends a few at a time)


def _encode_rest(message: _BulkText, *, paid: bool) -> bytes:
    """A bulk message's JSON body after its chat id (``,"text": ... }``), as PTB would encode
    it: objects as their dicts, absent values left out."""
    text, parse_mode, reply_markup, disable_preview, large_preview, thread = message
    fields: dict[str, Any] = {
        "text": text,
        "parse_mode": parse_mode,
        "reply_markup": reply_markup.to_dict() if reply_markup is not None else None,
        "link_preview_options": preview(disable_preview, large_preview).to_dict(),
        "message_thread_id": thread,
        "allow_paid_broadcast": True if paid else None,
    }
    encoded = json.dumps({k: v for k, v in fields.items() if v is not None})
    return ("," + encoded[1:]).encode()


def preview(disable_preview: bool, large_preview: str | None = None) -> LinkPreviewOptions:
    """A text message's link preview: none, the first link's, or ``large_preview`` (a picture)
    shown large above the text."""
    if large_preview is not None:
        # is_disabled said outright: PTB would otherwise fill in the Defaults' (disabled).
        return LinkPreviewOptions(
            is_disabled=False, url=large_preview, prefer_large_media=True, show_above_text=True
        )
    return LinkPreviewOptions(is_disabled=disable_preview)


class NewsbotBot(ExtBot[int]):
    """PTB's ExtBot, minus the default parameters a method does not take.

    PTB puts ``Defaults`` (parse mode, link preview options) into every message-editing call,
    including ``editMessageReplyMarkup``, which has neither. Telegram ignores them today; the
    Bot API's own spec does not allow them, so we do not send them.
    """

    _NOT_TAKEN: ClassVar[dict[str, frozenset[str]]] = {
        "editMessageReplyMarkup": frozenset(
            {
                "parse_mode",
                "link_preview_options",
                "disable_notification",
                "protect_content",
                "allow_paid_broadcast",
                "message_effect_id",
            }
        ),
    }

    def __init__(self, *args: Any, paid_broadcast: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            # Bulk sends carry allow_paid_broadcast ([delivery] paid_broadcast): Telegram lets
            # them through at up to 1,000/s and charges Stars for each. Replies never do.
            self.paid_broadcast = paid_broadcast
            # The encoded rest of each bulk message's body, by the message (its text first).
            self._bodies: dict[_BulkText, bytes] = {}

    async def send_bulk(
        self,
        chat_id: int | str,
        text: str,
        *,
        parse_mode: str | None,
        reply_markup: InlineKeyboardMarkup | None,
        disable_preview: bool,
        photo: str | None = None,
        large_preview: str | None = None,
        thread: int | None = None,
    ) -> int:
        """sendMessage (or with ``photo``, sendPhoto with ``text`` as its caption) for bulk
        delivery: bulk priority, paid if so configured, and only the message id back.

        Delivery needs nothing of the answer but its message id; building PTB's full Message
        from it costs ~0.3 ms, a sixth of the whole pipeline's budget at 2,000 messages/s.
        Errors are raised exactly as ``send_message`` raises them. ``thread`` is the forum
        topic's ``message_thread_id``.
        """
        data: dict[str, Any] = {
            "chat_id": chat_id,
            "parse_mode": parse_mode,
            "reply_markup": reply_markup,
            "message_thread_id": thread,
        }
        if photo is None:
            # The one request of a fan-out sent 100,000 times: its body is encoded once per
            # message and only the chat id put in front (see ``_encoded_send``).
            return await self._encoded_send(
                chat_id, (text, parse_mode, reply_markup, disable_preview, large_preview, thread)
            )
        if self.paid_broadcast:
            data["allow_paid_broadcast"] = True
        data.update(photo=photo, caption=text)
        result = await self._post(
            "sendPhoto", data, api_kwargs=self._merge_api_rl_kwargs(None, BULK)
        )
        return int(result["message_id"])

    async def _encoded_send(self, chat_id: int | str, message: _BulkText) -> int:
        """sendMessage of ``message`` to ``chat_id`` with the rest of its JSON body encoded
        once for every chat it goes to, through the rate limiter at bulk priority.

        PTB's own path turns every parameter into a ``RequestParameter`` and every object
        (the keyboard, the preview options) into a dict again for each request: ~0.15 ms of
        CPU a message, a seventh of a core at the paid 1,000/s. The answer and its errors are
        PTB's own (``BaseRequest.post``), exactly as ``send_message`` raises them.
        """
        rest = self._bodies.get(message)
        if rest is None:
            rest = _encode_rest(message, paid=self.paid_broadcast)
            if len(self._bodies) >= BODY_CACHE:
                self._bodies.clear()
            self._bodies[message] = rest
        body = b'{"chat_id":' + json.dumps(chat_id).encode() + rest
        # What the rate limiter reads of a request: its chat, and whether it is paid.
        seen = {"chat_id": chat_id, "allow_paid_broadcast": self.paid_broadcast}
        if self.rate_limiter is None:
            result = await self._post_encoded(body)
        else:
            result = await self.rate_limiter.process_request(
                callback=self._post_encoded,
                args=(body,),
                kwargs={},
                endpoint="sendMessage",
                data=seen,
                rate_limit_args=BULK,
            )
        assert isinstance(result, dict)
        return int(result["message_id"])

    async def _post_encoded(self, body: bytes) -> Any:
        request = self._request[1]  # PTB's request for every method but getUpdates
        return await request.post(f"{self.base_url}/sendMessage", encoded_request(body))

    async def edit_bulk(
        self,
        chat_id: int | str,
        message_id: int,
        text: str,
        *,
        parse_mode: str | None,
        reply_markup: InlineKeyboardMarkup | None,
        disable_preview: bool,
        large_preview: str | None = None,
        caption: bool = False,
    ) -> int:
        """editMessageText for bulk delivery (a story's later report), like ``send_bulk``;
        ``caption``: the message is a photo, so its caption is edited (editMessageCaption)."""
        data: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "parse_mode": parse_mode,
            "reply_markup": reply_markup,
        }
        if caption:
            data["caption"] = text
            method = "editMessageCaption"
        else:
            data.update(text=text, link_preview_options=preview(disable_preview, large_preview))
            method = "editMessageText"
        await self._post(method, data, api_kwargs=self._merge_api_rl_kwargs(None, BULK))
        return message_id

    async def _do_post(
        self,
        endpoint: str,
        data: dict[str, Any],
        *,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        dropped = self._NOT_TAKEN.get(endpoint)
        if dropped:
            data = {key: value for key, value in data.items() if key not in dropped}
        return await super()._do_post(
            endpoint,
            data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
