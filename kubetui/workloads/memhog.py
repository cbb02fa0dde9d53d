"""kubetui/memhog: allocates memory until the container's memory limit kills it (OOMKilled).

Arguments: ``[MiB-per-step] [step-seconds] [max-MiB]`` (defaults 10, 0.2, 0 = no maximum).
With a maximum it holds that much and sleeps, which shows in ``kubectl top``.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    step = int(argv[0]) if argv else 10
    pause = float(argv[1]) if len(argv) > 1 else 0.2
    ceiling = int(argv[2]) if len(argv) > 2 else 0
    hoard: list[bytearray] = []
    while not ceiling or len(hoard) * step < ceiling:
        block = bytearray(step * 1024 * 1024)
        for i in range(0, len(block), 4096):   # touch every page so it is really resident
            block[i] = 1
        hoard.append(block)
        print(f"allocated {len(hoard) * step} MiB", flush=True)
        time.sleep(pause)
    print(f"holding {len(hoard) * step} MiB", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
