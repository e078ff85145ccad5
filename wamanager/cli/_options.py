"""What every command shares: the run's settings, the common options, and how an API
command gets its client (credentials from the environment, flags overriding them).

An API command is an ``async def`` taking the client and the :class:`Output` first::

    @api_command()
    @click.argument("deployment_id")
    async def status(wam: WhatsAppManager, out: Output, deployment_id: str) -> None:
        out.deployment(await wam.deployments.get(deployment_id))
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

import attrs
import click

from .._client import WhatsAppManager
from ._output import Output

__all__ = [
    "POSITIVE_FACTOR",
    "POSITIVE_SECONDS",
    "Settings",
    "api_command",
    "client_environ",
    "debug_option",
    "run_async",
]

#: The credential flags and the environment variable each one overrides.
FLAG_VARIABLES: Mapping[str, str] = {
    "application_id": "VONAGE_APPLICATION_ID",
    "private_key": "VONAGE_PRIVATE_KEY",
    "api_key": "VONAGE_API_KEY",
    "api_secret": "VONAGE_API_SECRET",
    "base_url": "WAMANAGER_BASE_URL",
}
_JWT_FLAGS = frozenset({"application_id", "private_key"})
_BASIC_FLAGS = frozenset({"api_key", "api_secret"})


def client_environ(environ: Mapping[str, str], flags: Mapping[str, str]) -> dict[str, str]:
    """The variables :meth:`WhatsAppManager.from_env` reads, with the flags applied. Pure.

    A flag overrides the variable of its name. Basic-auth flags given without JWT flags also
    drop the JWT variables, so that ``--api-key``/``--api-secret`` choose basic auth even
    where JWT variables are exported (which otherwise win).
    """
    merged = {name: environ[name] for name in FLAG_VARIABLES.values() if name in environ}
    if flags.keys() & _BASIC_FLAGS and not flags.keys() & _JWT_FLAGS:
        for flag in _JWT_FLAGS:
            merged.pop(FLAG_VARIABLES[flag], None)
    merged.update({FLAG_VARIABLES[flag]: value for flag, value in flags.items()})
    return merged


class _OneLine(logging.Formatter):
    # Without --debug, what the library logs (a warning, say) is one line: no traceback.
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


@attrs.define
class Settings:
    """The run's settings, filled in by the common options while the command line is parsed.

    :meth:`open` sends the ``wamanager`` logger's warnings to stderr, one line each;
    ``--debug`` turns on its DEBUG lines and tracebacks. :meth:`close` undoes it.
    """

    debug: bool = False
    json: bool = False
    flags: dict[str, str] = attrs.Factory(dict)
    _handler: logging.Handler | None = None

    def open(self) -> None:
        """Attach the log handler (warnings only, one line each)."""
        self._handler = logging.StreamHandler(sys.stderr)
        self._handler.setFormatter(_OneLine())
        logger = logging.getLogger("wamanager")
        logger.addHandler(self._handler)
        logger.setLevel(logging.WARNING)

    def enable_debug(self) -> None:
        """Tracebacks on errors, and every DEBUG line of the ``wamanager`` logger."""
        self.debug = True
        if self._handler is not None:
            self._handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
        logging.getLogger("wamanager").setLevel(logging.DEBUG)

    def close(self) -> None:
        """Detach the log handler (``main`` may run again in the same process)."""
        logger = logging.getLogger("wamanager")
        if self._handler is not None:
            logger.removeHandler(self._handler)
            self._handler = None
        logger.setLevel(logging.NOTSET)


class _Positive(click.ParamType):  # type: ignore[type-arg,unused-ignore]  # generic in click 8.3+
    """A finite number greater than zero."""

    def __init__(self, name: str) -> None:
        self.name = name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (math.isfinite(number) and number > 0):
            self.fail(f"{value!r} is not a positive number", param, ctx)
        return number


#: Seconds: a finite number greater than zero.
POSITIVE_SECONDS = _Positive("SECONDS")
#: A speed factor: a finite number greater than zero.
POSITIVE_FACTOR = _Positive("FACTOR")


def _on_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Settings).enable_debug()


def _on_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Settings).json = True


def _on_flag(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and param.name is not None:
        ctx.ensure_object(Settings).flags[param.name] = value


def debug_option() -> click.Option:
    """``--debug``: tracebacks and request logs on stderr (never a secret)."""
    return click.Option(
        ["--debug"],
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_on_debug,
        help="Show tracebacks and log each request on stderr (secrets stay hidden).",
    )


def _common_options(json_output: bool) -> list[click.Parameter]:
    def flag(name: str, help_text: str, secret: bool = False) -> click.Option:
        variable = FLAG_VARIABLES[name]
        note = " Visible to other users in the process list: prefer the variable." if secret else ""
        return click.Option(
            ["--" + name.replace("_", "-")],
            metavar="TEXT",
            expose_value=False,
            callback=_on_flag,
            help=f"{help_text}{note} [env var: {variable}]",
        )

    options: list[click.Parameter] = []
    if json_output:
        options.append(
            click.Option(
                ["--json"],
                is_flag=True,
                expose_value=False,
                callback=_on_json,
                help="Print the result as JSON, and nothing else, on stdout.",
            )
        )
    options += [
        flag("base_url", "API root URL (a sandbox's, say); the production API if unset."),
        flag("application_id", "Vonage application id, for JWT auth."),
        flag("private_key", "The application's private key: a path, or the PEM text.", True),
        flag("api_key", "Vonage API key, for basic auth (JWT wins when both are set)."),
        flag("api_secret", "Vonage API secret, for basic auth.", True),
        debug_option(),
    ]
    return options


APICallback = Callable[..., Awaitable[None]]

T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, with Ctrl-C handled as Python 3.11+ handles it on every version.

    From 3.11, SIGINT cancels the main task, so its ``finally`` blocks and ``except
    CancelledError`` run (the bulk command says how to resume, the journal's last write
    completes), and ``KeyboardInterrupt`` is raised once it has unwound. Python 3.10's
    ``asyncio.run`` raises ``KeyboardInterrupt`` wherever the main thread happens to be, in
    the middle of a write or a callback, so on 3.10 the same is done here by hand.
    """
    if sys.version_info >= (3, 11):
        return asyncio.run(main)
    return asyncio.run(_cancelled_by_sigint(main))


async def _cancelled_by_sigint(main: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()
        loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl-C interrupts at once

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        return await main
    try:
        return await main
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        if not interrupted:
            loop.remove_signal_handler(signal.SIGINT)


def api_command(
    name: str | None = None, *, json_output: bool = True, **command_attrs: Any
) -> Callable[[APICallback], click.Command]:
    """Make a click command of ``async def f(wam, out, **params)``.

    The command gets ``--json`` (unless ``json_output`` is false), ``--base-url``, the
    credential flags and ``--debug``; it runs ``f`` with a client made by
    :meth:`WhatsAppManager.from_env` over the environment and those flags, closed after.
    """

    def decorate(func: APICallback) -> click.Command:
        @functools.wraps(func)
        def callback(**params: Any) -> None:
            run = click.get_current_context().ensure_object(Settings)
            environ = client_environ(os.environ, run.flags)
            run_async(_call(func, environ, Output(json_mode=run.json), params))

        command = click.command(name, cls=click.Command, **command_attrs)(callback)
        command.params.extend(_common_options(json_output))
        return command

    return decorate


async def _call(
    func: APICallback, environ: Mapping[str, str], out: Output, params: dict[str, Any]
) -> None:
    async with WhatsAppManager.from_env(environ) as wam:
        await func(wam, out, **params)
