"""The bulk journal: what it records, what it refuses, and that it holds no secret."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import anyio
import pytest

from wamanager import DeploymentRequest, JournalError, OTPProgress
from wamanager._journal import Journal, fingerprint


def requests(*numbers: str, secret: str = "VNAME-SECRET-Qx") -> list[DeploymentRequest]:  # noqa: S107
    return [
        DeploymentRequest(
            country_code="44", number=n, vname_certificate=secret, waba_id="1", pin="123456"
        )
        for n in numbers
    ]


async def test_rows_record_steps_ids_states_progress_and_outcomes(tmp_path: Path) -> None:
    """Every write is read back as it was made, per number, in the run's order."""
    path = tmp_path / "j.sqlite"
    async with await Journal.open(path, requests("7700900001", "7700900002")) as journal:
        await journal.enter("447700900001", "create", None)
        await journal.enter("447700900001", "watch", "dep-1")
        await journal.state("447700900001", "CODE_SENT")
        await journal.progress("447700900001", OTPProgress(resends=1, code_since=5.0))
        await journal.finish("447700900002", "failed", error_type="Forbidden", error_message="no")
        rows = await journal.rows()
    first, second = rows.values()
    assert (first.msisdn, first.position, first.step, first.deployment_id) == (
        "447700900001",
        0,
        "watch",
        "dep-1",
    )
    assert first.state == "CODE_SENT"
    assert first.otp_progress == OTPProgress(resends=1, code_since=5.0)
    assert set(first.stages) == {"create"}
    assert (second.outcome, second.error_type, second.position) == ("failed", "Forbidden", 1)


async def test_reopening_with_the_same_list_keeps_the_records(tmp_path: Path) -> None:
    """A second run with the same list sees what the first wrote."""
    path = tmp_path / "j.sqlite"
    async with await Journal.open(path, requests("7700900001")) as journal:
        await journal.enter("447700900001", "watch", "dep-1")
    async with await Journal.open(path, requests("7700900001")) as journal:
        rows = await journal.rows()
    assert rows["447700900001"].deployment_id == "dep-1"


async def test_another_list_is_refused(tmp_path: Path) -> None:
    """A journal refuses a request list other than its own (order and numbers matter)."""
    path = tmp_path / "j.sqlite"
    async with await Journal.open(path, requests("7700900001", "7700900002")):
        pass
    for other in (requests("7700900002", "7700900001"), requests("7700900001")):
        with pytest.raises(JournalError, match="another request list"):
            await Journal.open(path, other)


async def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    """A random file, or another SQLite database, is a JournalError, not a crash."""
    garbage = tmp_path / "notes.txt"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError):
        await Journal.open(garbage, requests("7700900001"))
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE meta (x INTEGER)")
    with pytest.raises(JournalError):
        await Journal.open(other, requests("7700900001"))


async def test_nothing_secret_is_stored(tmp_path: Path) -> None:
    """Neither the vname certificate nor the PIN reaches the file (nor the fingerprint)."""
    path = tmp_path / "j.sqlite"
    listed = requests("7700900001", secret="VNAME-SECRET-Qx")
    async with await Journal.open(path, listed) as journal:
        await journal.enter("447700900001", "create", None)
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())  # noqa: ASYNC240
    assert b"VNAME-SECRET-Qx" not in data
    assert b"123456" not in data
    assert fingerprint(listed) == fingerprint(requests("7700900001", secret="another"))


class _Held:
    """A connection whose UPDATEs wait (in the worker thread) until released."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.entered = threading.Event()
        self.release = threading.Event()

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("UPDATE"):
            self.entered.set()
            self.release.wait(5)
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)

    def __enter__(self) -> object:
        return self._db.__enter__()

    def __exit__(self, *exc_info: object) -> object:
        return self._db.__exit__(*exc_info)  # type: ignore[arg-type]


async def test_a_write_cancelled_mid_way_still_completes(tmp_path: Path) -> None:
    """Cancelling a caller while its write runs lets the write finish, whole."""
    path = tmp_path / "j.sqlite"
    async with await Journal.open(path, requests("7700900001")) as journal:
        held = _Held(journal._db)
        journal._db = held  # type: ignore[assignment]
        async with anyio.create_task_group() as tg:
            tg.start_soon(journal.enter, "447700900001", "watch", "dep-9")
            await anyio.to_thread.run_sync(held.entered.wait, 5)
            tg.cancel_scope.cancel()  # the writer is cancelled while its thread works
            held.release.set()
        journal._db = held._db
        rows = await journal.rows()
    assert rows["447700900001"].deployment_id == "dep-9"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
