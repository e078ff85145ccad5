"""``import wamanager`` against ``import aiohttp`` (its heaviest dependency), in fresh processes.

Each round starts one interpreter per statement, alternating, and times the import inside
it (``time.perf_counter`` around the statement, so interpreter start-up is not counted).
Prints the median of each and the median of the per-round ratios. Also checks that
``import wamanager`` loaded neither PyJWT nor cryptography (they load only for ``JWTAuth``).

    python benchmarks/import_time.py [rounds]
"""

from __future__ import annotations

import statistics
import subprocess
import sys

TIMER = """
import sys, time
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
heavy = sorted(m for m in sys.modules if m == "jwt" or m.startswith("cryptography"))
print(elapsed, len(heavy))
"""


def time_import(module: str) -> tuple[float, int]:
    """Seconds to import `module` in a fresh interpreter, and how many jwt/crypto modules."""
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", TIMER.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), int(out[1])


def main(rounds: int) -> None:
    time_import("wamanager")  # warm the file cache and .pyc files first
    ours, theirs, ratios = [], [], []
    heavy = 0
    for _ in range(rounds):
        wam, heavy = time_import("wamanager")
        aio, _ = time_import("aiohttp")
        ours.append(wam)
        theirs.append(aio)
        ratios.append(wam / aio)
    print(f"import time, {rounds} fresh interpreters each (median)")
    print(f"  import aiohttp    {statistics.median(theirs) * 1e3:6.1f} ms")
    print(f"  import wamanager  {statistics.median(ours) * 1e3:6.1f} ms (aiohttp included)")
    print(f"  ratio {statistics.median(ratios):.2f} (median of rounds)")
    print(f"  jwt/cryptography modules loaded by import wamanager: {heavy}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
