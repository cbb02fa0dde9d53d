"""kubetui/cpuhog: burns CPU in N worker processes (see CPU limits throttle it, and ``kubectl top``).

Arguments: ``[workers]`` (default 1). Prints how many loops per second it manages,
which drops when a CPU limit throttles the container.

``IDLE_SECONDS`` (environment) makes it sit idle that long first, then print
``kubetui/cpuhog: load starts at <epoch seconds>`` and burn: load that arrives
at a known moment (an autoscaler's reaction is measured from there).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time


def burn(report: bool) -> None:
    count, mark = 0, time.monotonic()
    while True:
        count += 1
        if count % 200_000 == 0 and report:
            now = time.monotonic()
            if now - mark >= 5:
                print(f"{count / (now - mark):,.0f} loops/s", flush=True)
                count, mark = 0, now


def main(argv: list[str]) -> int:
    workers = int(argv[0]) if argv else 1
    idle = float(os.environ.get("IDLE_SECONDS") or 0)
    if idle > 0:
        print(f"kubetui/cpuhog: idle for {idle:g}s", flush=True)
        time.sleep(idle)
        print(f"kubetui/cpuhog: load starts at {time.time():.3f}", flush=True)
    print(f"kubetui/cpuhog: burning {workers} CPU(s)", flush=True)
    for _ in range(workers - 1):
        multiprocessing.Process(target=burn, args=(False,), daemon=True).start()
    burn(True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
