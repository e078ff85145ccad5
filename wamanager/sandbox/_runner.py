"""Serving the sandbox on a loopback port, and the handle tests and demos hold.

The handle gives plain values (URLs, credentials, ``environ``) and sandbox-side helpers; it
never builds a client (the sandbox must not import it). ``wamanager.testing.sandbox_client``
does that.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import ipaddress
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ._app_keys import ENGINE
from ._auth import TokenMinter
from ._clock import ManualClock, SandboxClock
from ._config import (
    API_PREFIX,
    CONTROL_PREFIX,
    DEFAULT_APPLICATION_ID,
    Application,
    FaultConfig,
    SandboxConfig,
)
from ._control import reset_app, set_faults
from ._engine import SandboxEngine
from ._inbox import SandboxInbox
from ._records import OTPMessage
from ._routes import create_app
from ._stats import SandboxStats

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


@contextlib.contextmanager
def _self_signed_certificate(host: str) -> Iterator[tuple[Path, Path]]:
    """A certificate for ``host``, ``localhost``, 127.0.0.1 and ::1, and its key, in a
    private temporary folder removed afterwards."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wamanager sandbox")])
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    try:
        address = ipaddress.ip_address(host)
        if x509.IPAddress(address) not in names:
            names.append(x509.IPAddress(address))
    except ValueError:
        if host and host != "localhost":
            names.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="wamanager-sandbox-tls-"))  # readable by us only
    try:
        cert_path, key_path = folder / "cert.pem", folder / "key.pem"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        yield cert_path, key_path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@attrs.define(repr=False)
class SandboxHandle:
    """A running sandbox: where it is, its configuration, clock and credentials.

    Build a client from its plain values (``wamanager.testing.sandbox_client(handle)`` does
    this), or from :attr:`environ` with ``WhatsAppManager.from_env``.
    """

    #: The API root to give a client (``http://127.0.0.1:<port>/v0.1/whatsapp-manager``).
    base_url: str
    #: The server root (``http://127.0.0.1:<port>``); the control API is under ``/_sandbox``.
    root_url: str
    config: SandboxConfig
    app: web.Application
    #: The private key (PEM) of the default application, when one was generated.
    private_key_pem: str | None = None
    #: The self-signed certificate (PEM) a ``tls=True`` sandbox serves; trust it in clients.
    certificate_path: Path | None = None
    _minter: TokenMinter | None = attrs.field(default=None, init=False)

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
        """The first account's api secret (Basic auth works only with ``basic_auth=True``)."""
        return self.config.accounts[0].api_secret

    @property
    def application_id(self) -> str:
        """The first application's id."""
        return self.config.applications[0].application_id

    @property
    def environ(self) -> dict[str, str]:
        """The environment variables that point a client at this sandbox.

        ``WAMANAGER_BASE_URL``, ``VONAGE_APPLICATION_ID`` and ``VONAGE_PRIVATE_KEY`` (the PEM
        text), plus ``VONAGE_API_KEY``/``VONAGE_API_SECRET`` only when the sandbox accepts
        Basic credentials.
        """
        env = {"WAMANAGER_BASE_URL": self.base_url}
        if self.private_key_pem is not None:
            env["VONAGE_APPLICATION_ID"] = self.application_id
            env["VONAGE_PRIVATE_KEY"] = self.private_key_pem
        if self.config.basic_auth:
            env["VONAGE_API_KEY"] = self.api_key
            env["VONAGE_API_SECRET"] = self.api_secret
        return env

    def authorization(self) -> str:
        """A ``Bearer <JWT>`` header value of the default application (re-signed before it
        expires). Raises :class:`RuntimeError` when no key was generated."""
        if self._minter is None:
            if self.private_key_pem is None:
                raise RuntimeError("this sandbox has no generated application key")
            self._minter = TokenMinter(self.application_id, self.private_key_pem)
        return self._minter()

    @property
    def basic_authorization(self) -> str:
        """A ``Basic`` header value of the first account (accepted with ``basic_auth=True``)."""
        token = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        return f"Basic {token}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client SSL context that trusts this sandbox's certificate (``None`` without TLS)."""
        if self.certificate_path is None:
            return None
        return ssl.create_default_context(cafile=str(self.certificate_path))

    def otp_url(self, deployment_id: str) -> str:
        """The inbox URL of a deployment."""
        return f"{self.root_url}{CONTROL_PREFIX}/deployments/{deployment_id}/otp"

    def otp(self, deployment_id: str) -> OTPMessage | None:
        """The last code delivered for ``deployment_id`` (read in-process, any account)."""
        dep = self.engine.get(deployment_id)
        return dep.inbox if dep is not None else None

    def inbox(self) -> SandboxInbox:
        """An OTP provider reading this sandbox's inbox over HTTP, as the default application."""
        return SandboxInbox(self.root_url, self.authorization, ssl_context=self.ssl_context())

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

    def stats(self) -> SandboxStats:
        """A snapshot of the counters (``GET /_sandbox/stats`` in-process)."""
        return self.engine.stats.copy()

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.engine.stats.reset()

    def reset(self) -> None:
        """Forget every deployment, counter and rate bucket (``POST /_sandbox/reset``)."""
        reset_app(self.app)

    def set_faults(self, faults: FaultConfig) -> None:
        """Inject ``faults`` from now on (``PUT /_sandbox/faults``); ``FaultConfig()`` stops."""
        set_faults(self.app, faults)

    def __repr__(self) -> str:
        return f"SandboxHandle(base_url={self.base_url!r})"


@contextlib.asynccontextmanager
async def run_sandbox(
    config: SandboxConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool = False,
) -> AsyncIterator[SandboxHandle]:
    """Serve a sandbox on ``host:port`` (port 0: a free one) for the ``async with`` body.

    A default application (and its private key, on the handle) is added when ``config``
    has none, so JWT auth works out of the box. ``tls=True`` serves HTTPS with a generated
    self-signed certificate (``handle.certificate_path``, removed afterwards)::

        async with run_sandbox(SandboxConfig(speed=60)) as sandbox:
            async with sandbox_client(sandbox) as wam:  # from wamanager.testing
                ...
    """
    config, private = with_default_application(config or SandboxConfig())
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    with contextlib.ExitStack() as files:
        try:
            context: ssl.SSLContext | None = None
            certificate: Path | None = None
            if tls:
                certificate, key = files.enter_context(_self_signed_certificate(host))
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(certificate, key)
            site = web.TCPSite(runner, host, port, ssl_context=context)
            await site.start()
            bound_host, bound_port = runner.addresses[0][:2]
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            root = f"{'https' if tls else 'http'}://{shown}:{bound_port}"
            yield SandboxHandle(
                base_url=root + API_PREFIX,
                root_url=root,
                config=config,
                app=app,
                private_key_pem=private,
                certificate_path=certificate,
            )
        finally:
            await runner.cleanup()
