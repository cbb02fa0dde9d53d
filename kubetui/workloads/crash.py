"""kubetui/crash: starts, says so, and exits 1 after a few seconds (to watch CrashLoopBackOff).

Arguments: ``[seconds] [exit-code]`` (defaults 2 and 1); or env ``CRASH_AFTER``/``EXIT_CODE``.
"""

from __future__ import annotations

import os
import sys
import time

from kubetui.workloads import _pod


def main(argv: list[str]) -> int:
    after = float(argv[0]) if argv else float(os.environ.get("CRASH_AFTER", "2"))
    code = int(argv[1]) if len(argv) > 1 else int(os.environ.get("EXIT_CODE", "1"))
    print(f"kubetui/crash in pod {_pod.pod_name()}: starting, will crash in {after:g}s", flush=True)
    time.sleep(after)
    print(f"fatal: something went wrong on purpose (exit code {code})", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
