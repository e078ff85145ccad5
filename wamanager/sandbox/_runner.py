"""Serving the sandbox on a loopback port, and the handle tests and demos hold."""

from __future__ import annotations

import base64
import contextlib
import functools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import attrs
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ._app import API_PREFIX, ENGINE, INBOX_PREFIX, create_app
from ._clock import ManualClock, SandboxClock
from ._config import DEFAULT_APPLICATION_ID, Application, SandboxConfig
from ._engine import OtpMessage, SandboxEngine
from ._inbox import SandboxInbox

if TYPE_CHECKING:
    from ..auth import BasicAuth, JWTAuth
    from ..client import WhatsAppManager

__all__ = ["SandboxHandle", "generate_application", "run_sandbox", "with_default_application"]


@functools.lru_cache(maxsize=1)
def _default_key_pair() -> tuple[str, str]:
    # One RSA key per process: generating one costs tens of milliseconds, and every
    # sandbox started by a test would otherwise pay it again.
    return _key_pair()


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private, public


def generate_application(
    application_id: str = DEFAULT_APPLICATION_ID, api_key: str | None = None
) -> tuple[Application, str]:
    """A new :class:`Application` and its private key (PEM), for JWT auth against a sandbox.

    ``api_key`` is the owning account (default: the default account).
    """
    private, public = _key_pair()
    kwargs: dict[str, Any] = {} if api_key is None else {"api_key": api_key}
    return Application(application_id, public, **kwargs), private


def with_default_application(config: SandboxConfig) -> tuple[SandboxConfig, str | None]:
    """``config`` plus a default application when it has none, and that app's private key.

    The key pair is generated once per process. The application belongs to the first
    account. Returns ``(config, None)`` unchanged when applications are configured.
    """
    if config.applications:
        return config, None
    private, public = _default_key_pair()
    app = Application(DEFAULT_APPLICATION_ID, public, config.accounts[0].api_key)
    return attrs.evolve(config, applications=(app,)), private


@attrs.define(repr=False)
class SandboxHandle:
    """A running sandbox: where it is, its configuration, clock and credentials."""

    #: The API root to give a client (``http://127.0.0.1:<port>/v0.1/whatsapp-manager``).
    base_url: str
    #: The server root (``http://127.0.0.1:<port>``); the inbox is under ``/_sandbox``.
    root_url: str
    config: SandboxConfig
    app: web.Application
    #: The private key (PEM) of the default application, when one was generated.
    private_key_pem: str | None = None

    @property
    def engine(self) -> SandboxEngine:
        """The in-memory state (for assertions; prefer the HTTP API)."""
        return self.app[ENGINE]

    @property
    def clock(self) -> SandboxClock:
        """The sandbox clock (a :class:`ManualClock` when the config gave one)."""
        return self.engine.clock

    @property
    def api_key(self) -> str:
        """The first account's api key."""
        return self.config.accounts[0].api_key

    @property
    def api_secret(self) -> str:
        """The first account's api secret."""
        return self.config.accounts[0].api_secret

    @property
    def application_id(self) -> str:
        """The first application's id."""
        return self.config.applications[0].application_id

    @property
    def basic_authorization(self) -> str:
        """An ``Authorization`` header value for the first account."""
        token = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        return f"Basic {token}"

    def otp_url(self, deployment_id: str) -> str:
        """The inbox URL of a deployment."""
        return f"{self.root_url}{INBOX_PREFIX}/deployments/{deployment_id}/otp"

    def otp(self, deployment_id: str) -> OtpMessage | None:
        """The last code delivered for ``deployment_id`` (read in-process, any account)."""
        dep = self.engine.get(deployment_id)
        return dep.inbox if dep is not None else None

    def inbox(self) -> SandboxInbox:
        """An OTP provider reading this sandbox's inbox over HTTP, as the first account."""
        return SandboxInbox(self.root_url, self.basic_authorization)

    async def otp_provider(self, deployment: Any) -> str | None:
        """An in-process OTP provider: the code delivered to ``deployment``, or ``None``."""
        message = self.otp(deployment.deployment_id)
        return message.code if message is not None else None

    def advance(self, seconds: float) -> None:
        """Move a :class:`ManualClock` forward; raises TypeError for other clocks."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("advance() needs SandboxConfig(clock=ManualClock())")
        clock.advance(seconds)

    def basic_auth(self) -> BasicAuth:
        """:class:`~wamanager.BasicAuth` for the first account."""
        from ..auth import BasicAuth

        return BasicAuth(self.api_key, self.api_secret)

    def jwt_auth(self, ttl: int = 900) -> JWTAuth:
        """:class:`~wamanager.JWTAuth` for the generated default application."""
        from ..auth import JWTAuth

        if self.private_key_pem is None:
            raise RuntimeError("this sandbox has no generated application key")
        return JWTAuth(self.application_id, self.private_key_pem, ttl=ttl)

    def client(self, **kwargs: Any) -> WhatsAppManager:
        """A :class:`~wamanager.WhatsAppManager` bound to this sandbox (basic auth unless
        ``auth=`` is given); close it (or use ``async with``)."""
        from ..client import WhatsAppManager

        kwargs.setdefault("auth", self.basic_auth())
        return WhatsAppManager(base_url=self.base_url, **kwargs)

    def __repr__(self) -> str:
        return f"SandboxHandle(base_url={self.base_url!r})"


@contextlib.asynccontextmanager
async def run_sandbox(
    config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[SandboxHandle]:
    """Serve a sandbox on ``host:port`` (port 0: a free one) for the ``async with`` body.

    A default application (and its private key, on the handle) is added when ``config``
    has none, so both basic and JWT auth work out of the box::

        async with run_sandbox(SandboxConfig(speed=60)) as sandbox:
            async with sandbox.client() as wam:
                ...
    """
    config, private = with_default_application(config or SandboxConfig())
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        root = f"http://{shown}:{bound_port}"
        yield SandboxHandle(
            base_url=root + API_PREFIX,
            root_url=root,
            config=config,
            app=app,
            private_key_pem=private,
        )
    finally:
        await runner.cleanup()
