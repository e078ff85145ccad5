"""A sandbox with a test middleware in front: it counts requests and bytes per operation,
and breaks or rewrites the answers a test asks it to. Also a clock on sandbox time."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import anyio.lowlevel
from aiohttp import web

from wamanager import WhatsAppManager
from wamanager._auth import JWTAuth
from wamanager.sandbox import SandboxClock, SandboxConfig, SandboxHandle, create_app
from wamanager.sandbox._runner import with_default_application

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Rewrite = Callable[[web.Response], web.StreamResponse]


class Gate:
    """A middleware that counts requests by (method, last path part) and fails chosen ones."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.bytes: Counter[tuple[str, str]] = Counter()
        self.failing: set[tuple[str, str]] = set()
        self.rewrites: dict[tuple[str, str], Rewrite] = {}

    @staticmethod
    def key(request: web.Request) -> tuple[str, str]:
        tail = request.path.rstrip("/").rsplit("/", 1)[-1]
        return request.method, tail if tail.count("-") != 4 else "{id}"

    def middleware(self) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
        """The aiohttp middleware to put in front of the app."""

        @web.middleware
        async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
            key = self.key(request)
            self.counts[key] += 1
            if key in self.failing:
                return web.json_response({"type": "about:blank", "title": "Boom"}, status=500)
            response = await handler(request)
            if key in self.rewrites and isinstance(response, web.Response):
                response = self.rewrites[key](response)
            if isinstance(response, web.Response) and isinstance(response.body, bytes):
                self.bytes[key] += len(response.body)
            return response

        return gate


@contextlib.asynccontextmanager
async def gated_sandbox(config: SandboxConfig) -> AsyncIterator[tuple[SandboxHandle, Gate]]:
    """A sandbox on a free port with a :class:`Gate` in front of it."""
    config, private = with_default_application(config)
    app = create_app(config)
    gate = Gate()
    app.middlewares.insert(0, gate.middleware())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        root = f"http://{host}:{port}"
        yield (
            SandboxHandle(
                base_url=root + "/v0.1/whatsapp-manager",
                root_url=root,
                config=config,
                app=app,
                private_key_pem=private,
            ),
            gate,
        )
    finally:
        await runner.cleanup()


def client(sandbox: SandboxHandle, **kwargs: object) -> WhatsAppManager:
    """A JWT client of the sandbox, with no retry delays worth waiting for."""
    assert sandbox.private_key_pem is not None
    return WhatsAppManager(
        base_url=sandbox.base_url,
        auth=JWTAuth(sandbox.application_id, sandbox.private_key_pem),
        sleep=lambda _: anyio.lowlevel.checkpoint(),
        **kwargs,  # type: ignore[arg-type]
    )


class SandboxTime:
    """A watcher clock on sandbox seconds: ``sleep(s)`` waits ``s / speed`` real seconds."""

    def __init__(self, clock: SandboxClock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(seconds, 0.0) / self._clock.speed)
