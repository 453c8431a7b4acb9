"""The emulator's HTTP face: the Bot API, the control API, and webhook delivery.

The Bot API lives at `/bot<token>/<method>` like api.telegram.org; the controls at
`/control/<action>` (POST with a JSON body) and `/control/<reading>` (GET), so that a bot in
another process, or `conflictbot demo`, can drive a conversation. Nothing here logs a path or a
URL: paths carry the token, and a webhook URL often does too.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from bot.emulator_methods import METHODS
from bot.emulator_params import Upload, decode
from bot.emulator_records import record_to_json
from bot.emulator_world import ApiError, World, bad_request

if TYPE_CHECKING:
    from bot.emulator import Emulator

log = logging.getLogger(__name__)

TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
WEBHOOK_RETRY_SECONDS = 0.5
CONTROL_ACTIONS = frozenset(
    {
        *("add_chat", "user_says", "press_button", "bot_added", "bot_removed", "migrate"),
        *("block", "unblock", "fail_next", "set_unavailable", "reset_counts"),
    }
)


def _json(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)


async def read_fields(request: web.Request) -> dict[str, Any]:
    """The call's raw fields from the query string and a form, multipart or JSON body."""
    fields: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.body_exists:
        return fields
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        return fields | body
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            fields[name] = Upload(value.file.read(), value.filename)
        else:
            fields[name] = value
    return fields


class HttpFace:
    """The request handlers of one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.world: World = emulator.world

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self.bot_api)
        app.router.add_post("/control/{action}", self.control_action)
        app.router.add_get("/control/{reading}", self.control_reading)
        return app

    async def bot_api(self, request: web.Request) -> web.Response:
        """One Bot API call: token, scripted failures, parameters, then the method itself."""
        world = self.world
        if world.unavailable:
            return _json(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
        given, name = request.match_info["token"], request.match_info["method"]
        if not hmac.compare_digest(given.encode(), self.emulator.token.encode()):
            refusal = (
                ApiError(401, "Unauthorized")
                if TOKEN_SHAPE.fullmatch(given)
                else ApiError(404, "Not Found")
            )
            log.debug("refused a call with a wrong token: %d", refusal.error_code)
            return _json(refusal.error_code, refusal.as_json())
        method = METHODS.get(name.lower())
        world.requests_by_method[method.name if method else name] += 1
        try:
            if method is None:
                raise ApiError(404, "Not Found")
            failure = world.take_failure(method.name)
            if failure is not None:
                raise failure
            args = decode(method.params, await read_fields(request))
            result = await method.handler(world, args)
        except ApiError as exc:
            log.debug("%s -> %d %s", name, exc.error_code, exc.description)
            return _json(exc.error_code, exc.as_json())
        log.debug("%s -> ok", name)
        return _json(200, {"ok": True, "result": result})

    async def control_action(self, request: web.Request) -> web.Response:
        """POST /control/<action>: call the Emulator method of that name with the JSON body."""
        action = request.match_info["action"]
        if action not in CONTROL_ACTIONS:
            return _json(404, {"ok": False, "description": f"no control action {action!r}"})
        try:
            body = await request.json() if request.body_exists else {}
            if not isinstance(body, dict):
                raise TypeError("the body must be a JSON object")
            result = getattr(self.emulator, action)(**body)
        except (TypeError, ValueError, KeyError) as exc:
            return _json(400, {"ok": False, "description": str(exc)})
        log.debug("control %s", action)
        return _json(200, {"ok": True, "result": result})

    async def control_reading(self, request: web.Request) -> web.Response:
        """GET /control/<reading>: sent, edits, callback_answers, messages, stats or wait."""
        emulator, query = self.emulator, request.query
        try:
            chat_id = int(query["chat_id"]) if "chat_id" in query else None
            since = int(query.get("since", "0"))
            reading = request.match_info["reading"]
            if reading == "sent":
                records: list[Any] = [
                    r for r in emulator.sent[since:] if chat_id is None or r.chat_id == chat_id
                ]
            elif reading == "edits":
                records = emulator.edits[since:]
            elif reading == "callback_answers":
                records = emulator.callback_answers[since:]
            elif reading == "messages" and chat_id is not None:
                records = emulator.messages_to(chat_id)
            elif reading == "wait":
                count, timeout = int(query.get("count", "1")), float(query.get("timeout", "5"))
                records = await emulator.wait_for(chat_id, count, since=since, timeout=timeout)
            elif reading == "stats":
                return _json(200, {"ok": True, "result": emulator.stats()})
            else:
                return _json(404, {"ok": False, "description": "no such reading"})
        except ValueError as exc:
            return _json(400, {"ok": False, "description": str(exc)})
        except TimeoutError as exc:
            return _json(408, {"ok": False, "description": str(exc)})
        return _json(200, {"ok": True, "result": [record_to_json(r) for r in records]})


async def deliver_webhooks(world: World) -> None:
    """POST pending updates, in order, to the webhook while one is set (as Telegram pushes).

    A delivery counts when the bot answers 2xx; otherwise the error is kept for getWebhookInfo
    and the same update is tried again shortly.
    """
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while not world.closing:
            hook = world.webhook
            if not hook.url or not world.updates:
                await world.wait_change(None)
                continue
            update = world.updates[0]
            secret = hook.secret_token
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
            try:
                async with session.post(hook.url, json=update, headers=headers) as response:
                    ok = 200 <= response.status < 300
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                ok, error = False, f"Connection failed: {type(exc).__name__}"
            if ok:
                if world.updates and world.updates[0] is update:
                    world.updates.popleft()
                    world.notify()
                continue
            hook.last_error_date, hook.last_error_message = world.now(), error
            log.debug("webhook delivery failed: %s", error)
            await asyncio.sleep(WEBHOOK_RETRY_SECONDS)
