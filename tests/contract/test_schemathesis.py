"""Schemathesis against a running sandbox, with the patched spec (the issue's "done when").

The run: examples, coverage, fuzzing and stateful phases; positive and negative data; every
check; ``--seed 42``; at most ``MAX_EXAMPLES`` examples per operation; one worker. A READY
deployment with a sticker pack and a sticker is seeded first and its ids are given as the
path parameters, so the profile, photo and sticker operations are exercised past 404.

Deviations from "every check, strictly", each narrow and configured in ``schemathesis.toml``:

* ``GET /deployments/{id}/stickerpacks?namespace=whatsapp`` is excluded: the spec writes the
  query into the path key, so the tool requests a path with ``%3F`` that no server has. The
  integration tests cover ``?namespace=whatsapp``.
* ``status_code_conformance`` is replaced, for ``createDeployment`` and ``createStickers``
  only, by a check that also allows the one error status the spec forgets there
  (``st_hooks.py``).
* Requests carry a Bearer JWT of the sandbox's application, the scheme the spec applies.
* ``positive_data_acceptance`` also expects 422 for ``verify`` (a schema-valid code can be
  wrong, or come in the wrong state), ``updateProfile`` (a website longer than 256, which
  the spec states only in prose, or that is no http(s) URL; a malformed email),
  ``updateProfilePhoto`` (a URL that is no .png/.jpg) and ``createDeployment`` (a number
  that is not E.164 digits), and 400 for ``createStickerpacks`` and ``createStickers``
  (store links that are no http(s) URL, WhatsApp's limits on names, emojis and stickers):
  rules production applies that the schema does not state (``wamanager._rules``).
* Deletion of the deployment and of a sticker get ids of their own (so the other
  operations keep finding theirs for the whole run).
* ``unsupported_method`` and ``allow_header_conformance`` are off for ``/deployments``: the
  real API also serves ``GET /deployments`` (the sticker guide documents it), which the spec
  omits, so ``Allow: GET, HEAD, POST`` is truthful.
* ``ensure_resource_availability`` is off for the two sticker-by-index operations: the
  stateful phase links a freshly created (empty) sticker pack to "sticker {index} of it",
  where 404 is the correct answer.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from wamanager._states import DeploymentState
from wamanager.sandbox import ManualClock, SandboxConfig, SandboxHandle, run_sandbox

SPEC = Path(__file__).resolve().parents[2] / "spec" / "whatsapp-provisioning.patched.yml"
HERE = Path(__file__).resolve().parent
MAX_EXAMPLES = 25
SEED = 42


def _seed_ready_deployment(handle: SandboxHandle, number: str) -> dict[str, str]:
    engine, clock = handle.engine, handle.clock
    assert isinstance(clock, ManualClock)
    dep = engine.create(handle.api_key, country_code="44", number=number, waba_id="1", method="sms")
    clock.advance(300)
    engine.advance(dep)
    assert dep.code is not None
    engine.verify(handle.api_key, dep.deployment_id, dep.code)
    clock.advance(300)
    engine.advance(dep)
    assert dep.state is DeploymentState.READY
    pack = engine.create_pack(handle.api_key, dep.deployment_id, {"name": "n", "publisher": "p"})
    index = engine.add_sticker(
        handle.api_key, dep.deployment_id, pack, {"image_data_id": "img", "emojis": ["😃"]}
    )
    doomed = engine.add_sticker(handle.api_key, dep.deployment_id, pack, {"image_data_id": "x"})
    return {
        "deployment_id": dep.deployment_id,
        "stickerpack_id": pack,
        "sticker_index": index,
        "doomed_sticker": doomed,
    }


@pytest.fixture
def served_sandbox() -> Iterator[tuple[SandboxHandle, dict[str, str]]]:
    """A sandbox with a READY deployment, served from a thread with its own event loop."""
    ready = threading.Event()
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    box: dict[str, object] = {}

    async def serve() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        # rate_limit=None: thousands of requests at one instant of a manual clock test the
        # contract, not the account limit (which the sandbox tests pin).
        config = SandboxConfig(clock=ManualClock(), seed=SEED, rate_limit=None)
        async with run_sandbox(config) as handle:
            box["handle"], box["ids"] = handle, _seed_ready_deployment(handle, "7700900999")
            box["doomed"] = _seed_ready_deployment(handle, "7700900998")["deployment_id"]
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield box["handle"], {**box["ids"], "doomed": box["doomed"]}  # type: ignore[dict-item,misc]
    assert loop is not None
    assert stop is not None
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def test_schemathesis_reports_no_failures(
    served_sandbox: tuple[SandboxHandle, dict[str, str]], tmp_path: Path
) -> None:
    """Schemathesis finds no failure in any phase, check or operation of the patched spec."""
    assert SPEC.exists(), f"the spec must be beside the checkout, at {SPEC}"
    handle, ids = served_sandbox
    config = (HERE / "schemathesis.toml").read_text()
    doomed = ids.pop("doomed")
    doomed_sticker = ids.pop("doomed_sticker")
    config += "\n[parameters]\n" + "".join(f'"path.{k}" = "{v}"\n' for k, v in ids.items())
    # Deletion gets a deployment of its own, so the others stay READY for the whole run.
    config += (
        '\n[[operations]]\ninclude-operation-id = "deleteDeployment"\n'
        f'parameters = {{ "path.deployment_id" = "{doomed}" }}\n'
        '\n[[operations]]\ninclude-operation-id = "deleteStickerByIndex"\n'
        f'parameters = {{ "path.sticker_index" = "{doomed_sticker}" }}\n'
    )
    (tmp_path / "schemathesis.toml").write_text(config)
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "st_hooks",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        st,
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
        "run",
        str(SPEC),
        "--url",
        handle.base_url,
        "--header",
        f"Authorization: {handle.authorization()}",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--no-shrink",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(  # noqa: S603 - a fixed command line
        command, capture_output=True, text=True, timeout=170, env=env, cwd=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert "passed" in output
