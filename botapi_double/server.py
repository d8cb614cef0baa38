"""The HTTP side of the double: an aiohttp server speaking the Bot API at ``/bot<token>/<method>``.

Parameters are read from the query string and from the body (``application/json``,
``application/x-www-form-urlencoded`` or ``multipart/form-data``), then validated against the
spec and dispatched to a handler in ``methods.py``. Every call is recorded as an
:class:`~botapi_double.state.ApiCall`. Injected faults and flood limits are applied here, in this
order: token and method checks, parameter validation, injected faults, rate limits, the handler.

Webhooks: while a webhook is set, queued updates are POSTed to it one by one, in order, with the
``X-Telegram-Bot-Api-Secret-Token`` header when a secret was given. A JSON answer carrying a
``method`` is executed as a call, as Telegram does. Unlike Telegram, plain ``http://`` URLs and
any port are accepted, so that a test can serve its webhook on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from botapi_double.errors import ApiError, bad_request, not_found, too_many_requests, unauthorized
from botapi_double.faults import FaultRule, Faults, RateLimiter
from botapi_double.methods import HANDLERS, Context, Described, unsupported
from botapi_double.spec import ApiSpec, UploadedFile
from botapi_double.state import ApiCall, BotState, Chat, utcnow

__all__ = ["BotApiServer"]

_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_MAX_BODY = 50 * 1024 * 1024  # Telegram accepts uploads up to 50 MB
_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


class BotApiServer:
    """Serves one bot's Bot API on loopback; see :class:`botapi_double.BotApiDouble`."""

    def __init__(
        self,
        state: BotState,
        spec: ApiSpec,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        strict_html_entities: bool = True,
        max_poll_timeout: float = 50.0,
        webhook_retry_delay: float = 0.2,
    ) -> None:
        self.state = state
        self.spec = spec
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.ctx = Context(
            state, strict_html_entities=strict_html_entities, max_poll_timeout=max_poll_timeout
        )
        self.faults = Faults()
        self.limits = RateLimiter()
        self.webhook_retry_delay = webhook_retry_delay
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._download)
        return app

    async def start(self) -> None:
        """Bind the socket (port 0 picks a free one) and start serving."""
        if self._runner is not None:
            raise RuntimeError("the server is already running")
        self._closing = asyncio.Event()
        self.ctx.closing = False
        runner = web.AppRunner(
            self.make_app(), handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._delivery = asyncio.create_task(self._deliver_webhooks(), name="botapi-webhook")

    async def stop(self) -> None:
        """Answer pending long polls, stop webhook delivery and close every socket."""
        if self._runner is None:
            return
        self.ctx.closing = True
        self._closing.set()
        self.state.updates_signal.notify()
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
            self._delivery = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake early when the server stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # -- HTTP ------------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> dict[str, object]:
        raw: dict[str, object] = {}
        for key, value in request.query.items():
            raw.setdefault(key, value)
        if not request.can_read_body:
            return raw
        ctype = request.content_type
        if ctype == "application/json":
            body = await request.read()
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError:
                    raise bad_request("can't parse JSON request body") from None
                if not isinstance(data, dict):
                    raise bad_request("JSON request body must be an object")
                raw.update(data)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, part in form.items():
                if isinstance(part, web.FileField):
                    raw[key] = UploadedFile(key, part.filename, part.content_type, part.file.read())
                elif isinstance(part, str):
                    raw.setdefault(key, part)
                else:
                    raw.setdefault(key, bytes(part).decode("utf-8", "replace"))
        else:
            body = await request.read()
            if body.strip():
                raise bad_request(f"unsupported Content-Type {ctype}")
        return raw

    def _split_attachments(
        self, method: str, raw: dict[str, object]
    ) -> tuple[dict[str, object], dict[str, UploadedFile]]:
        """Separate ``attach://<name>`` file parts from the parameters proper."""
        spec = self.spec.method(method)
        assert spec is not None
        attachments = {
            k: v for k, v in raw.items() if isinstance(v, UploadedFile) and k not in spec.fields
        }
        params = {k: v for k, v in raw.items() if k not in attachments}
        return params, attachments

    def _target_chat(self, params: Mapping[str, Any]) -> Chat | None:
        chat_id = params.get("chat_id")
        if chat_id is None:
            return None
        try:
            return self.state.resolve_chat(chat_id)
        except ApiError:
            return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = request.match_info["method"]
        record = ApiCall(method, {}, None, None, utcnow(), http_method=request.method)
        try:
            status, payload, rule = await self._process(token, method, request, record)
        except asyncio.CancelledError:
            # The client went away (handler cancellation) or the server is stopping; a call
            # that already took effect keeps the answer it would have had.
            gone = "client disconnected"
            record.fault = f"{record.fault}; {gone}" if record.fault else gone
            self._record(record)
            raise
        if rule is not None and rule.kind == "drop":
            record.fault = "dropped connection"
            record.response = payload or None  # what the call would have answered
            self._record(record)
            if request.transport is not None:
                request.transport.abort()
            # Nothing may be written: end this request the way a vanished client does.
            raise asyncio.CancelledError
        record.status, record.response = status, payload
        self._record(record)
        if rule is not None and rule.raw_body is not None:
            return web.Response(body=rule.raw_body, status=status, content_type=rule.content_type)
        return web.json_response(payload, status=status)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """A file getFile pointed at: its bytes, or Telegram's 404 for anything else."""
        path = request.match_info["file_path"]
        found = next((f for f in self.state.files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.state.token or found is None:
            return web.json_response(not_found().to_json(), status=404)
        self.state.downloads.append(found.file_id)
        self.state.activity.notify()
        return web.Response(body=found.data, content_type="application/octet-stream", charset=None)

    async def _process(
        self, token: str, method: str, request: web.Request, record: ApiCall
    ) -> tuple[int, dict[str, Any], FaultRule | None]:
        """Run the call pipeline with its injected faults; return status, body and the fault."""
        rule: FaultRule | None = None
        try:
            outcome = await self._call(token, method, request, record)
            if isinstance(outcome, FaultRule):
                rule = outcome
                if rule.kind == "error":
                    assert rule.error is not None
                    raise rule.error
                if not rule.executed:
                    if rule.kind == "drop":
                        return 0, {}, rule
                    await self._sleep(rule.delay)
                outcome = await self._execute(record)
            status, payload = 200, _success(outcome)
        except ApiError as exc:
            status, payload = exc.error_code, exc.to_json()
        if rule is not None and rule.kind == "delay" and rule.executed:
            record.status, record.response = status, payload
            await self._sleep(rule.delay)
        return status, payload, rule

    def _record(self, record: ApiCall) -> None:
        self.state.record_call(record)

    async def _call(
        self, token: str, method: str, request: web.Request, record: ApiCall
    ) -> Any | FaultRule:
        """Check token, method and parameters; return a matching fault rule or the result."""
        if not _TOKEN_RE.match(token):
            raise not_found()
        if token != self.state.token:
            raise unauthorized()
        spec = self.spec.method(method)
        if spec is None:
            raise not_found()
        record.method = spec.name
        raw = await self._read_params(request)
        record.params = dict(raw)
        raw, attachments = self._split_attachments(spec.name, raw)
        params = self.spec.check_params(spec, raw)
        params.update({f"attach://{k}": v for k, v in attachments.items()})
        record.params = params
        chat = self._target_chat(params)
        rule = self.faults.take(spec.name, chat.id if chat is not None else None)
        if rule is not None:
            record.fault = f"injected {rule.kind}"
            return rule
        return await self._execute(record)

    async def _execute(self, record: ApiCall) -> Any:
        """Apply flood limits, then run the method's handler."""
        method, params = record.method, record.params
        retry_after = self.limits.check(
            method,
            self._target_chat(params),
            time.monotonic(),
            paid=bool(params.get("allow_paid_broadcast")),
        )
        if retry_after is not None:
            record.fault = "rate limited"
            raise too_many_requests(retry_after)
        handler = HANDLERS.get(method)
        if handler is None:
            spec = self.spec.method(method)
            assert spec is not None
            if spec.returns_true:
                return True
            raise unsupported(method)
        return await handler(self.ctx, params)

    async def call(self, method: str, params: Mapping[str, object]) -> tuple[int, dict[str, Any]]:
        """Run one API call without HTTP (used for answers to webhook requests)."""
        record = ApiCall(method, dict(params), None, None, utcnow(), http_method="webhook-reply")
        try:
            spec = self.spec.method(method)
            if spec is None:
                raise not_found()
            record.method = spec.name
            record.params = self.spec.check_params(spec, params)
            result = await self._execute(record)
            status, payload = 200, _success(result)
        except ApiError as exc:
            status, payload = exc.error_code, exc.to_json()
        record.status, record.response = status, payload
        self._record(record)
        return status, payload

    # -- webhooks ----------------------------------------------------------------------------------

    async def _deliver_webhooks(self) -> None:
        state = self.state
        while True:
            if not state.webhook_url or not state.updates:
                await state.updates_signal.wait(None)
                continue
            update = state.updates[0]
            delivered = await self._post_update(state.webhook_url, update.to_api())
            if delivered:
                if state.updates and state.updates[0] is update:
                    state.updates.pop(0)
                state.activity.notify()
            else:
                await self._sleep(self.webhook_retry_delay)

    async def _post_update(self, url: str, update: dict[str, Any]) -> bool:
        assert self._session is not None
        headers = {}
        if self.state.webhook_secret:
            headers[_SECRET_HEADER] = self.state.webhook_secret
        try:
            async with self._session.post(url, json=update, headers=headers) as response:
                body = await response.read()
                if not 200 <= response.status < 300:
                    self._webhook_error(f"Wrong response from the webhook: {response.status}")
                    return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._webhook_error(f"Connection failed: {exc.__class__.__name__}")
            return False
        with contextlib.suppress(ValueError):
            reply = json.loads(body) if body.strip() else None
            if isinstance(reply, dict) and isinstance(reply.get("method"), str):
                params = {k: v for k, v in reply.items() if k != "method"}
                await self.call(reply["method"], params)
        return True

    def _webhook_error(self, message: str) -> None:
        self.state.webhook_last_error = (utcnow(), message)
        self.state.activity.notify()


def _success(result: Any) -> dict[str, Any]:
    if isinstance(result, Described):
        return {"ok": True, "result": result.result, "description": result.description}
    return {"ok": True, "result": result}
