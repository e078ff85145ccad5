"""Every command against a sandbox on a manual clock: JSON parsed back, human output, exits."""

from __future__ import annotations

import pytest

from wamanager.cli import _output

from .conftest import CLI, ThreadedSandbox, deploy, ready

pytestmark = pytest.mark.usefixtures("served")


def test_list_shows_the_account_s_deployments(run: CLI) -> None:
    """`list --json` is an array of deployments; `list` a header and one row each."""
    assert run("list", "--json").json() == []
    deployment_id = deploy(run)
    listed = run("list", "--json").json()
    assert [item["deployment_id"] for item in listed] == [deployment_id]
    assert listed[0]["current_state"]["title"] == "INITIALIZING"
    result = run("list")
    assert result.code == 0
    header, row = result.out.splitlines()
    assert header.split() == ["DEPLOYMENT", "STATE", "NUMBER", "WABA", "ID"]
    assert row.split() == [deployment_id, "INITIALIZING", "+44", "7700900123", "123456789123"]


def test_deploy_prints_the_new_deployment_and_how_to_follow_it(run: CLI) -> None:
    """`deploy` without --watch prints the deployment; stderr says how to watch it."""
    result = run(
        "deploy", "44", "7700900123", "--waba-id", "123456789123", "--vname-certificate", "c"
    )
    assert result.code == 0, result.err
    assert "state:      INITIALIZING" in result.out
    assert "number:     +44 7700900123" in result.out
    assert "follow it with: wamanager watch " in result.err


def test_status_prints_the_state(run: CLI, served: ThreadedSandbox) -> None:
    """`status --json` parses back to the deployment; `status` shows its fields."""
    deployment_id = deploy(run)
    served.advance(130)
    data = run("status", deployment_id, "--json").json()
    assert data["deployment_id"] == deployment_id
    assert data["current_state"]["title"] == "CODE_SENT"
    assert data["number"] == "7700900123"
    human = run("status", deployment_id)
    assert f"deployment: {deployment_id}" in human.out
    assert "state:      CODE_SENT" in human.out


def test_status_of_an_unknown_deployment_is_an_api_error(run: CLI) -> None:
    """A 404 exits 3 with the API's title and detail, then advice, on stderr."""
    result = run("status", "no-such-deployment")
    assert result.code == 3
    assert result.out == ""
    first, advice = result.err.splitlines()
    assert first.startswith("Error: 404 Not Found")
    assert "wamanager list" in advice


def test_verify_submits_the_code(run: CLI, served: ThreadedSandbox) -> None:
    """`verify ID CODE --json` returns the API's answer and the deployment moves on."""
    deployment_id = deploy(run)
    served.advance(130)
    result = run("verify", deployment_id, served.code(deployment_id), "--json")
    assert result.code == 0, result.err
    assert result.json()["deployment_id"] == deployment_id
    status = run("status", deployment_id, "--json").json()
    assert status["current_state"]["title"] == "CODE_VERIFIED"  # the manual clock stands still


def test_verify_asks_for_the_code_when_it_is_not_given(run: CLI, served: ThreadedSandbox) -> None:
    """Without CODE, `verify` prompts on stderr and reads the code from stdin."""
    deployment_id = deploy(run)
    served.advance(130)
    code = served.code(deployment_id)
    result = run("verify", deployment_id, stdin=code + "\n")
    assert result.code == 0, result.err
    assert result.err.startswith("OTP code: ")
    assert "code accepted" in result.out
    assert code not in result.out + result.err


def test_verify_with_a_wrong_code_exits_3(run: CLI, served: ThreadedSandbox) -> None:
    """A rejected code exits 3 and suggests asking for a new one."""
    deployment_id = deploy(run)
    served.advance(130)
    result = run("verify", deployment_id, "not-the-code")
    assert result.code == 3
    assert result.err.splitlines()[0].startswith("Error: 422 ")
    assert "wamanager resend ID" in result.err


def test_verify_with_closed_input_is_interrupted(run: CLI, served: ThreadedSandbox) -> None:
    """No CODE and nothing on stdin ends with exit code 130."""
    deployment_id = deploy(run)
    result = run("verify", deployment_id, stdin="")
    assert result.code == 130
    assert "Interrupted" in result.err


def test_resend_sends_a_new_code_by_voice(run: CLI, served: ThreadedSandbox) -> None:
    """`resend --method voice --json` reports the method; the sandbox inbox gets a new code."""
    deployment_id = deploy(run)
    served.advance(130 + 31)  # past the resend cool-down
    before = served.handle.otp(deployment_id)
    result = run("resend", deployment_id, "--method", "voice", "--json")
    assert result.code == 0, result.err
    assert result.json()["method"] == "voice"
    after = served.handle.otp(deployment_id)
    assert after is not None
    assert after != before
    assert after.method == "voice"


def test_resend_human_form(run: CLI, served: ThreadedSandbox) -> None:
    """`resend` says the code is on its way, and how."""
    deployment_id = deploy(run)
    served.advance(130 + 31)
    result = run("resend", deployment_id)
    assert result.code == 0, result.err
    assert result.out.strip() == "a new code is on its way by sms"


def test_resend_before_the_code_was_sent_is_a_conflict(run: CLI) -> None:
    """Resending in INITIALIZING exits 3 and explains which states allow it."""
    result = run("resend", deploy(run))
    assert result.code == 3
    assert "CODE_SENT or WRONG_CODE" in result.err


def test_delete_moves_the_deployment_to_deleting(run: CLI) -> None:
    """`delete` exits 0; the deployment is then DELETING, and a second delete exits 3."""
    deployment_id = deploy(run)
    result = run("delete", deployment_id)
    assert result.code == 0, result.err
    assert result.out.strip() == f"deleting {deployment_id} (DELETING, then DELETED)"
    assert run("status", deployment_id, "--json").json()["current_state"]["title"] == "DELETING"
    assert run("delete", deployment_id).code == 3


def test_delete_has_no_json_option(run: CLI) -> None:
    """`delete` prints no model, so --json is a usage error (exit 2)."""
    assert run("delete", "x", "--json").code == 2


def test_profile_set_and_get(run: CLI, served: ThreadedSandbox) -> None:
    """`profile set` changes the given fields; `profile get --json` reads them back."""
    deployment_id = ready(run, served)
    result = run(
        "profile",
        "set",
        deployment_id,
        "--about",
        "Fresh bread daily",
        "--vertical",
        "restaurant",
        "--website",
        "https://bakery.example",
        "--website",
        "https://shop.example",
        "--json",
    )
    assert result.code == 0, result.err
    assert result.json()["vertical"] == "Restaurant"
    profile = run("profile", "get", deployment_id, "--json").json()
    assert profile["about"] == "Fresh bread daily"
    assert profile["websites"] == ["https://bakery.example", "https://shop.example"]
    run("profile", "set", deployment_id, "--email", "hi@bakery.example")
    human = run("profile", "get", deployment_id).out
    assert "about:" in human
    assert "Fresh bread daily" in human  # untouched by the second, partial update
    assert "hi@bakery.example" in human
    assert "https://bakery.example, https://shop.example" in human


def test_profile_set_without_fields_is_a_usage_error(run: CLI) -> None:
    """`profile set ID` with nothing to change exits 2 naming the options."""
    result = run("profile", "set", "dep")
    assert result.code == 2
    assert "--about" in result.err
    assert len(result.err.splitlines()) == 1


def test_profile_set_validates_before_sending(run: CLI) -> None:
    """A too-long 'about' exits 2 naming the field, before any request."""
    result = run("profile", "set", "no-such-deployment", "--about", "x" * 140)
    assert result.code == 2
    assert "about: must be 1 to 139 characters long" in result.err


def test_profile_before_ready_is_an_api_error(run: CLI) -> None:
    """The profile of a deployment that is not READY exits 3."""
    assert run("profile", "get", deploy(run)).code == 3


def test_photo_set_and_get(run: CLI, served: ThreadedSandbox) -> None:
    """`photo set ID URL` replaces it; `photo get` shows where it came from."""
    deployment_id = ready(run, served)
    url = "https://cdn.example.com/logo.png"
    result = run("photo", "set", deployment_id, url, "--json")
    assert result.code == 0, result.err
    assert result.json() == {"image_url": url}
    assert run("photo", "get", deployment_id).out.strip() == f"image url: {url}"
    assert run("photo", "set", deployment_id, "ftp://x/logo.gif").code == 2


def test_stickerpacks_create_list_get(run: CLI, served: ThreadedSandbox) -> None:
    """Sticker packs: create prints the id; list and get read it back, as JSON and text."""
    deployment_id = ready(run, served)
    created = run(
        "stickerpacks",
        "create",
        deployment_id,
        "--publisher",
        "Demo Bakery",
        "--name",
        "Loaves",
        "--json",
    )
    assert created.code == 0, created.err
    pack_id = created.json()["id"]
    assert run("stickerpacks", "list", deployment_id, "--json").json() == [{"id": pack_id}]
    assert run("stickerpacks", "list", deployment_id).out.split() == ["STICKERPACK", pack_id]
    details = run("stickerpacks", "get", deployment_id, pack_id, "--json").json()
    assert (details["name"], details["publisher"]) == ("Loaves", "Demo Bakery")
    human = run("stickerpacks", "get", deployment_id, pack_id).out
    assert "publisher:" in human
    assert "Demo Bakery" in human
    first_party = run("stickerpacks", "list", deployment_id, "--namespace", "whatsapp", "--json")
    assert first_party.code == 0, first_party.err
    assert isinstance(first_party.json(), list)
    text = run("stickerpacks", "create", deployment_id, "--publisher", "P", "--name", "N").out
    assert text.startswith("sticker pack ")


def test_stickers_create_list_get_delete(run: CLI, served: ThreadedSandbox) -> None:
    """Stickers: add one with two emojis, list and show it, then delete it."""
    deployment_id = ready(run, served)
    pack = run(
        "stickerpacks", "create", deployment_id, "--publisher", "P", "--name", "N", "--json"
    ).json()["id"]
    created = run(
        "stickers",
        "create",
        deployment_id,
        pack,
        "--image-data-id",
        "media-1",
        "--emoji",
        "🍞",
        "--emoji",
        "👍🏽",
        "--json",
    )
    assert created.code == 0, created.err
    index = created.json()["index"]
    assert run("stickers", "list", deployment_id, pack, "--json").json() == [{"index": index}]
    assert run("stickers", "list", deployment_id, pack).out.split() == ["INDEX", index]
    sticker = run("stickers", "get", deployment_id, pack, index, "--json").json()
    assert sticker["image_data_id"] == "media-1"
    assert sticker["emojis"] == ["🍞", "👍🏽"]
    assert "🍞 👍🏽" in run("stickers", "get", deployment_id, pack, index).out
    deleted = run("stickers", "delete", deployment_id, pack, index, "--json")
    assert deleted.code == 0, deleted.err
    assert deleted.json()["image_data_id"] == "media-1"  # the sandbox echoes it
    assert run("stickers", "list", deployment_id, pack, "--json").json() == []
    assert run("stickers", "get", deployment_id, pack, index).code == 3
    added = run("stickers", "create", deployment_id, pack, "--image-data-id", "m2").out
    assert added.startswith("sticker ")
    second = added.split()[1]
    assert run("stickers", "delete", deployment_id, pack, second).out.startswith(
        f"sticker {second} deleted from {pack}"
    )


def test_human_output_on_a_terminal_is_coloured(run: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal `list` draws a coloured table; in a pipe it never does."""
    deployment_id = deploy(run)
    assert "\x1b[" not in run("list").out
    monkeypatch.setattr(_output, "stdout_is_terminal", lambda: True)
    text = run("list").out
    assert "\x1b[" in text
    assert deployment_id in text
    assert "\x1b[" not in run("list", "--json").out  # JSON stays JSON on a terminal
