"""`profile` and `photo`: set and get against a sandbox, usage and validation errors."""

from __future__ import annotations

from .conftest import CLI, ThreadedSandbox, deploy, ready


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
