"""The file ``wamanager bulk`` reads: a CSV of numbers, each row one :class:`~wamanager.Onboarding`.

:func:`read_bulk_file` reads it, or says in one line why the whole file cannot be used (a
missing or unknown column, a ragged row, not UTF-8); a bad *value* is not its business:
:func:`~wamanager.provision_many` reports such a row as invalid, with the reason.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import click

from .._bulk import Onboarding
from .._models import DeploymentRequest, Profile, Vertical

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "BulkFile",
    "BulkFileError",
    "BulkFileType",
    "onboarding_of",
    "read_bulk_file",
]

#: The columns every bulk file has, in any order.
REQUIRED_COLUMNS = ("country_code", "number", "waba_id", "vname_certificate", "method")
#: The columns it may have: the PIN, and the number's profile and photo.
OPTIONAL_COLUMNS = ("pin", "about", "email", "vertical", "website", "photo_url")


class BulkFileError(ValueError):
    """The bulk file cannot be used; the message says why in one line."""


@attrs.frozen
class BulkFile:
    """The numbers of a bulk file, in order, and the line each one came from."""

    path: Path
    items: tuple[Onboarding, ...]
    #: ``lines[i]`` is the file's line of ``items[i]`` (the header is line 1).
    lines: tuple[int, ...]

    def line_of(self, position: int) -> int | None:
        """The file's line of the item at ``position`` (``None``: no such item)."""
        return self.lines[position] if 0 <= position < len(self.lines) else None


def _column(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _vertical(text: str) -> Vertical | str:
    # Case-insensitive, as `profile set --vertical` is; anything else is left for the rules
    # to reject, so that the row is reported as invalid with the reason.
    for vertical in Vertical:
        if vertical.value.lower() == text.lower():
            return vertical
    return text


def onboarding_of(cells: Mapping[str, str]) -> Onboarding:
    """The :class:`~wamanager.Onboarding` of one row (``cells`` by column name). Pure.

    Cells are stripped; an empty optional cell is "not given". ``website`` may hold two URLs
    separated by spaces. Values are not checked here: :func:`~wamanager.provision_many`
    reports a bad row as invalid.
    """

    def optional(name: str) -> str | None:
        return cells.get(name, "").strip() or None

    request = DeploymentRequest(
        country_code=cells["country_code"].strip(),
        number=cells["number"].strip(),
        vname_certificate=cells["vname_certificate"].strip(),
        waba_id=cells["waba_id"].strip(),
        method=cells["method"].strip().lower(),
        pin=optional("pin"),
    )
    vertical = optional("vertical")
    website = optional("website")
    profile = Profile(
        about=optional("about"),
        email=optional("email"),
        vertical=_vertical(vertical) if vertical else None,
        websites=tuple(website.split()) if website else None,
    )
    return Onboarding(
        request, profile=None if profile == Profile() else profile, photo_url=optional("photo_url")
    )


def read_bulk_file(path: str | os.PathLike[str]) -> BulkFile:
    """Read a bulk file: a CSV (UTF-8, a header row) of :data:`REQUIRED_COLUMNS` and any of
    :data:`OPTIONAL_COLUMNS`.

    Header names are case-insensitive (spaces and dashes count as underscores). Raises
    :class:`BulkFileError` for what makes the whole file unusable: it cannot be read or is
    not UTF-8 CSV, a column is missing, unknown or repeated, a row has more or fewer cells
    than the header, or there is no row. A bad *value* is not an error here.
    """
    where = Path(path)
    try:
        with where.open(encoding="utf-8-sig", newline="") as handle:
            return _parse(where, csv.reader(handle, strict=True))
    except UnicodeDecodeError:
        raise BulkFileError(f"{where} is not UTF-8 text") from None
    except OSError as exc:
        raise BulkFileError(f"cannot read {where}: {exc.strerror or exc}") from None


def _parse(path: Path, reader: Any) -> BulkFile:
    try:
        header = next(reader, None)
        if header is None:
            raise BulkFileError(f"{path} is empty: it needs a header row and a row per number")
        columns = [_column(name) for name in header]
        repeated = sorted({name for name in columns if columns.count(name) > 1})
        if repeated:
            raise BulkFileError(f"{path}: column {', '.join(repeated)} appears more than once")
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            raise BulkFileError(f"{path}: missing column(s) {', '.join(missing)}")
        unknown = [name for name in columns if name not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
        if unknown:
            raise BulkFileError(
                f"{path}: unknown column(s) {', '.join(unknown)} "
                f"(the optional ones are {', '.join(OPTIONAL_COLUMNS)})"
            )
        items: list[Onboarding] = []
        lines: list[int] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != len(columns):
                raise BulkFileError(
                    f"{path}, line {reader.line_num}: {len(row)} cells, the header has "
                    f"{len(columns)} (a comma inside a value needs quotes)"
                )
            items.append(onboarding_of(dict(zip(columns, row, strict=True))))
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise BulkFileError(f"{path}, line {reader.line_num}: not valid CSV: {exc}") from None
    if not items:
        raise BulkFileError(f"{path} has a header but no numbers")
    return BulkFile(path, tuple(items), tuple(lines))


class BulkFileType(click.ParamType):  # type: ignore[type-arg,unused-ignore]  # generic in click 8.3+
    """A bulk file argument: the path, read and checked by :func:`read_bulk_file`."""

    name = "FILE.csv"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, BulkFile):
            return value
        try:
            return read_bulk_file(value)
        except BulkFileError as exc:
            self.fail(str(exc), param, ctx)
