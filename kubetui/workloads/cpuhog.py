"""kubetui/cpuhog: burns CPU in N worker processes (see CPU limits throttle it, and ``kubectl top``).

Arguments: ``[workers]`` (default 1). Prints how many loops per second it manages,
which drops when a CPU limit throttles the container.
"""

from __future__ import annotations

import multiprocessing
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
    print(f"kubetui/cpuhog: burning {workers} CPU(s)", flush=True)
    for _ in range(workers - 1):
        multiprocessing.Process(target=burn, args=(False,), daemon=True).start()
    burn(True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
