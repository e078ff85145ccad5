"""Where a command's results go: JSON only with ``--json``; otherwise tables and colour on a
terminal (rich), plain aligned text anywhere else (a pipe, a file), so scripts can read it.

Errors, prompts and hints go to stderr, never to stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._converter import unstructure
from .._events import Event, StateChanged
from .._models import Deployment
from .._states import DeploymentState

__all__ = ["Output", "stdout_is_terminal"]

#: Rich styles of the states, by what they mean for the person watching.
_STATE_STYLES = {
    DeploymentState.READY: "bold green",
    DeploymentState.ERROR: "bold red",
    DeploymentState.DELETING: "magenta",
    DeploymentState.DELETED: "magenta",
    DeploymentState.CODE_SENT: "bold yellow",
    DeploymentState.WRONG_CODE: "bold yellow",
}


def stdout_is_terminal() -> bool:
    """Whether stdout is a terminal (then tables and colour are drawn)."""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def state_style(state: str | None) -> str:
    """The rich style a state is shown in."""
    if state is None:
        return "dim"
    return _STATE_STYLES.get(DeploymentState(str(state)), "cyan")


def to_json(value: Any) -> Any:
    """``value`` as JSON-ready data: models in their wire shape, events as flat objects."""
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, Event):
        data = {"event": type(value).__name__}
        for field in attrs.fields(type(value)):
            data[field.name] = to_json(getattr(value, field.name))
        return data
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if attrs.has(type(value)):
        return unstructure(value)
    return value


class Output:
    """A command's stdout: :meth:`json` with ``--json``, human forms otherwise.

    ``terminal`` (default: whether stdout is one) chooses rich tables and colour over plain
    text. A closed pipe surfaces as :class:`BrokenPipeError`, which ``main`` ends quietly.
    """

    def __init__(self, *, json_mode: bool = False, terminal: bool | None = None) -> None:
        self.json_mode = json_mode
        self.terminal = stdout_is_terminal() if terminal is None else terminal

    def _console(self) -> Console:
        # Made per call: tests swap sys.stdout between commands. Only used on a terminal.
        return Console(file=sys.stdout, force_terminal=True, highlight=False, soft_wrap=True)

    def json(self, value: Any, *, compact: bool = False) -> None:
        """Print ``value`` (a model, a list of models, an event, plain data) as JSON."""
        text = json.dumps(to_json(value), ensure_ascii=False, indent=None if compact else 2)
        click.echo(text)

    def line(self, text: str, style: str | None = None) -> None:
        """Print one line of prose (styled on a terminal)."""
        if self.terminal:
            self._console().print(Text(text, style=style or ""))
        else:
            click.echo(text)

    def record(
        self, fields: Sequence[tuple[str, str | None]], *, styles: Mapping[str, str] | None = None
    ) -> None:
        """Print ``(label, value)`` pairs, one per line; ``None`` values are left out."""
        shown = [(label, value) for label, value in fields if value is not None]
        if not self.terminal:
            width = max((len(label) for label, _ in shown), default=0)
            for label, value in shown:
                click.echo(f"{label + ':':<{width + 1}} {value}")
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for label, value in shown:
            grid.add_row(label, Text(value, style=(styles or {}).get(label, "")))
        self._console().print(grid)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        style_column: int | None = None,
    ) -> None:
        """Print rows under a header; ``style_column`` holds states, coloured on a terminal."""
        if not self.terminal:
            widths = [
                max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)
            ]
            for row in (headers, *rows):
                cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
                click.echo("  ".join(cells).rstrip())
            return
        table = Table(*headers, header_style="bold", box=None, pad_edge=False)
        for row in rows:
            table.add_row(
                *(
                    Text(cell, style=state_style(cell) if index == style_column else "")
                    for index, cell in enumerate(row)
                )
            )
        self._console().print(table)

    def result_line(self, value: Any, text: str) -> None:
        """A command's result: ``value`` as JSON with ``--json``, else ``text`` as a line."""
        if self.json_mode:
            self.json(value)
        else:
            self.line(text)

    def result_record(
        self,
        value: Any,
        fields: Sequence[tuple[str, str | None]],
        *,
        styles: Mapping[str, str] | None = None,
    ) -> None:
        """A command's result: ``value`` as JSON with ``--json``, else ``fields`` as a
        :meth:`record`."""
        if self.json_mode:
            self.json(value)
        else:
            self.record(fields, styles=styles)

    def result_table(
        self,
        value: Any,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        style_column: int | None = None,
    ) -> None:
        """A command's result: ``value`` as JSON with ``--json``, else ``rows`` as a
        :meth:`table`."""
        if self.json_mode:
            self.json(value)
        else:
            self.table(headers, rows, style_column=style_column)

    def deployment(self, deployment: Deployment) -> None:
        """A deployment: JSON, or its fields."""
        number = f"+{deployment.country_code or ''} {deployment.number or ''}".strip()
        self.result_record(
            deployment,
            [
                ("deployment", deployment.deployment_id),
                ("state", str(deployment.state) if deployment.state else None),
                ("detail", deployment.detail),
                ("number", number if number != "+" else None),
                ("WABA id", deployment.waba_id),
                ("api key", deployment.api_key),
            ],
            styles={"state": state_style(deployment.state)},
        )

    def event(self, event: Event, text: str | None, elapsed: float) -> None:
        """One watcher event: a JSON line, or ``[  1.2s] text`` (nothing when ``text`` is None)."""
        if self.json_mode:
            self.json(event, compact=True)
        elif text is not None:
            style = state_style(event.current) if isinstance(event, StateChanged) else "dim"
            self.line(f"[{elapsed:6.1f}s] {text}", style)
