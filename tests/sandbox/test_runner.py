"""``run_sandbox(tls=True)``: HTTPS with a generated self-signed certificate."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request

import aiohttp
import anyio
import pytest

from wamanager import DeploymentRequest
from wamanager.sandbox import SandboxConfig, run_sandbox
from wamanager.testing import sandbox_client


async def test_an_https_client_that_trusts_the_certificate_gets_through() -> None:
    """The base URL is https; the client built on ssl_context() runs a whole create."""
    async with run_sandbox(SandboxConfig(speed=600), tls=True) as sandbox:
        assert sandbox.base_url.startswith("https://127.0.0.1:")
        assert sandbox.certificate_path is not None
        assert "BEGIN CERTIFICATE" in await anyio.Path(sandbox.certificate_path).read_text()
        connector = aiohttp.TCPConnector(ssl=sandbox.ssl_context())
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            sandbox_client(sandbox, session=http) as wam,
        ):
            dep = await wam.deployments.create(DeploymentRequest("44", "7700900000", "cert", "123"))
            assert [d.deployment_id for d in await wam.deployments.list()] == [dep.deployment_id]
        async with sandbox.inbox() as inbox:  # the inbox trusts the certificate too
            assert await inbox(dep) is None  # no code yet: 404, not an SSL error


async def test_the_standard_library_client_works_too() -> None:
    """urllib with a context trusting the certificate file reads the API over HTTPS."""
    async with run_sandbox(SandboxConfig(), tls=True) as sandbox:
        context = ssl.create_default_context(cafile=str(sandbox.certificate_path))
        request = urllib.request.Request(  # noqa: S310 - a loopback https URL
            sandbox.base_url + "/deployments",
            headers={"Authorization": sandbox.authorization()},
        )

        def fetch() -> object:
            with urllib.request.urlopen(request, context=context, timeout=5) as response:  # noqa: S310
                return json.load(response)

        assert await asyncio.to_thread(fetch) == []


async def test_a_client_that_does_not_trust_it_is_refused() -> None:
    """Without the certificate, verification fails (it is self-signed, not a CA's)."""
    async with run_sandbox(SandboxConfig(), tls=True) as sandbox, aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(sandbox.base_url + "/deployments")


async def test_the_certificate_is_removed_afterwards_and_plain_http_has_none() -> None:
    """The certificate folder goes with the sandbox; without tls there is no certificate."""
    async with run_sandbox(SandboxConfig(), tls=True) as sandbox:
        assert sandbox.certificate_path is not None
        path = anyio.Path(sandbox.certificate_path)
        assert await path.exists()
    assert not await path.exists()
    assert not await path.parent.exists()
    async with run_sandbox(SandboxConfig()) as sandbox:
        assert sandbox.certificate_path is None
        assert sandbox.ssl_context() is None
        assert sandbox.base_url.startswith("http://")
