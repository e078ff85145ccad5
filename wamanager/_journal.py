"""The bulk journal: a SQLite file recording each number's progress, so a killed run resumes.

:func:`~wamanager.provision_many` writes a row per number and updates it *before* every
side-effecting request (the intent: "a create may have been sent") and *after* it (the
result: the deployment id), along with the last state seen, the OTP step's
:class:`~wamanager.OTPProgress` and the outcome. Each write is one transaction, so a
``kill -9`` at any instant leaves either the previous record or the next, never half of one.

The file is SQLite in WAL mode with ``synchronous=NORMAL``: a committed write survives the
process being killed (what a journal is for); only a power cut may lose the last few, which
resuming also survives, since a create that was sent but not recorded is adopted through
``NumberInUse``. Writes run in a worker thread, one at a time.

Nothing secret is stored: no vname certificate, PIN or OTP code, only numbers, ids, states,
counts and error summaries. A journal remembers the request list it was made for (a hash of
each row's country code, number, WABA id and method, in order) and refuses another.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio
import attrs

from ._errors import WhatsAppManagerError
from ._models import DeploymentRequest
from ._policy import OTPProgress

__all__ = ["Journal", "JournalError", "JournalRow", "fingerprint"]

_SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS numbers (
    msisdn TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    step TEXT,
    deployment_id TEXT,
    state TEXT,
    otp_progress TEXT,
    outcome TEXT,
    error_type TEXT,
    error_message TEXT,
    stages TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);
"""


class JournalError(WhatsAppManagerError):
    """The journal cannot be used: it belongs to another request list, or is not a journal."""


def fingerprint(requests: Iterable[DeploymentRequest]) -> str:
    """A hash of a request list as the journal knows it (no secret goes into it)."""
    digest = hashlib.sha256()
    for request in requests:
        method = getattr(request.method, "value", request.method)
        row = f"{request.country_code}|{request.number}|{request.waba_id}|{method}\n"
        digest.update(row.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


@attrs.frozen
class JournalRow:
    """What the journal knows of one number."""

    msisdn: str
    position: int
    #: The step entered last (``create`` … ``photo``, ``done``), or ``None`` before any.
    step: str | None = None
    deployment_id: str | None = None
    #: The deployment state seen last.
    state: str | None = None
    otp_progress: OTPProgress | None = None
    #: ``"ready"``, ``"failed"``, or ``None`` while unfinished.
    outcome: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    #: Seconds spent in each step so far (across runs).
    stages: Mapping[str, float] = attrs.field(factory=dict)


class Journal:
    """One bulk run's journal file. Open it with :meth:`open`; close it (or ``async with``).

    Every method that writes commits one transaction, in a worker thread; calls are
    serialised, and a write that has started completes even if its caller is cancelled.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._lock = anyio.Lock()

    @classmethod
    async def open(cls, path: str | os.PathLike[str], requests: list[DeploymentRequest]) -> Journal:
        """Open (or create) the journal at ``path`` for ``requests``.

        Raises :class:`JournalError` when the file was written for another request list, or
        is not a wamanager journal.
        """
        where = Path(path)
        expected = fingerprint(requests)
        connection = await anyio.to_thread.run_sync(_connect, where)
        journal = cls(connection, where)
        try:
            await journal._run(_initialise, expected, requests)
        except BaseException:
            await journal.close()
            raise
        return journal

    async def rows(self) -> dict[str, JournalRow]:
        """Every number's record, by full number."""
        records: list[sqlite3.Row] = await self._run(
            lambda db: db.execute("SELECT * FROM numbers ORDER BY position").fetchall()
        )
        return {record["msisdn"]: _row(record) for record in records}

    async def enter(self, msisdn: str, step: str, deployment_id: str | None) -> None:
        """Record that ``msisdn`` enters ``step`` (written before that step's request)."""

        def write(db: sqlite3.Connection) -> None:
            now = time.time()
            current = db.execute(
                "SELECT step, stages, updated_at FROM numbers WHERE msisdn = ?", (msisdn,)
            ).fetchone()
            stages = json.loads(current["stages"]) if current else {}
            if current and current["step"]:
                spent = now - current["updated_at"]
                stages[current["step"]] = stages.get(current["step"], 0.0) + spent
            db.execute(
                "UPDATE numbers SET step = ?, deployment_id = COALESCE(?, deployment_id), "
                "stages = ?, updated_at = ? WHERE msisdn = ?",
                (step, deployment_id, json.dumps(stages), now, msisdn),
            )

        await self._run(write)

    async def state(self, msisdn: str, state: str) -> None:
        """Record the state the deployment of ``msisdn`` was last seen in."""
        await self._execute("UPDATE numbers SET state = ? WHERE msisdn = ?", (state, msisdn))

    async def progress(self, msisdn: str, progress: OTPProgress) -> None:
        """Record where the OTP step of ``msisdn`` is."""
        await self._execute(
            "UPDATE numbers SET otp_progress = ? WHERE msisdn = ?",
            (json.dumps(progress.to_json()), msisdn),
        )

    async def finish(
        self,
        msisdn: str,
        outcome: str,
        *,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Record how ``msisdn`` ended: ``"ready"`` or ``"failed"`` (with a summary)."""
        await self._execute(
            "UPDATE numbers SET outcome = ?, error_type = ?, error_message = ? WHERE msisdn = ?",
            (outcome, error_type, error_message, msisdn),
        )

    async def close(self) -> None:
        """Close the file. Safe to call twice."""
        async with self._lock:
            await anyio.to_thread.run_sync(self._db.close)

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _execute(self, sql: str, parameters: tuple[Any, ...]) -> None:
        await self._run(lambda db: db.execute(sql, parameters))

    async def _run(self, work: Any, *args: Any) -> Any:
        """Run ``work(db, *args)`` as one transaction in a worker thread."""

        def transaction() -> Any:
            with self._db:  # commits, or rolls back on error
                return work(self._db, *args)

        async with self._lock:
            # Not abandoned on cancellation: a write that started is finished, never half done.
            return await anyio.to_thread.run_sync(transaction)

    def __repr__(self) -> str:
        return f"<Journal {str(self.path)!r}>"


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        # An explicit BEGIN per transaction: ``with connection`` then commits it.
        connection.isolation_level = "DEFERRED"
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise JournalError(f"{path} is not a usable journal: {exc}") from None
    return connection


def _initialise(db: sqlite3.Connection, expected: str, requests: list[DeploymentRequest]) -> None:
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"not a wamanager journal: {exc}") from None
    if meta:
        if meta.get("fingerprint") != expected:
            raise JournalError(
                "this journal was written for another request list; use a new journal file "
                "for this one (or the original list to resume that run)"
            )
        if meta.get("version") != _SCHEMA_VERSION:
            raise JournalError(f"journal format {meta.get('version')} is not supported")
        return
    now = time.time()
    db.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("fingerprint", expected), ("version", _SCHEMA_VERSION), ("created_at", str(now))],
    )
    db.executemany(
        "INSERT OR IGNORE INTO numbers (msisdn, position, updated_at) VALUES (?, ?, ?)",
        [(request.msisdn, position, now) for position, request in enumerate(requests)],
    )


def _row(record: sqlite3.Row) -> JournalRow:
    progress = record["otp_progress"]
    return JournalRow(
        msisdn=record["msisdn"],
        position=record["position"],
        step=record["step"],
        deployment_id=record["deployment_id"],
        state=record["state"],
        otp_progress=OTPProgress.from_json(json.loads(progress)) if progress else None,
        outcome=record["outcome"],
        error_type=record["error_type"],
        error_message=record["error_message"],
        stages=json.loads(record["stages"] or "{}"),
    )
