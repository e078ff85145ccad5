"""Schemathesis hooks for the sandbox contract run (loaded through ``SCHEMATHESIS_HOOKS``).

``status_code_conformance`` is turned off for two operations only (see ``schemathesis.toml``)
and replaced there by this check, which is the same but for one status each that the spec
forgets to list:

* ``POST /deployments`` answers 422 ``#unprocessable`` for a missing or invalid field: the
  spec's own ErrorUnprocessable example ("Request was missing a waba_id") is this
  operation's, but its responses list has no 422.
* ``POST .../stickers`` answers 400 ``#invalid-json`` for a body that is not JSON or lacks
  ``image_data_id``: the operation lists no client error at all.
"""

from __future__ import annotations

from typing import Any

import schemathesis

_EXTRA = {"createDeployment": {422}, "createStickers": {400}}


@schemathesis.check
def status_code_conformance_with_spec_omissions(ctx: Any, response: Any, case: Any) -> None:
    """Documented statuses, plus the one status each ``_EXTRA`` operation forgets."""
    extra = _EXTRA.get(case.operation.definition.raw.get("operationId", ""))
    if extra is None or case.method.upper() != case.operation.method.upper():
        return  # other methods are unsupported_method's business (405)
    documented = {int(code) for code in case.operation.responses.status_codes if code.isdigit()}
    if response.status_code not in documented | extra:
        raise AssertionError(
            f"Undocumented status code {response.status_code}; documented: "
            f"{sorted(documented)} plus {sorted(extra)}"
        )
