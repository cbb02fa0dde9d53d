"""kubetui/loadgen: sends a bounded number of requests to a URL and prints which pods answered.

``loadgen URL [-n 100] [-c 4] [--every SECONDS]``. Each answer of
``kubetui/hello`` names its pod, so the summary shows how a Service spreads
traffic over its endpoints. With ``--every`` it repeats a round forever (as a
Deployment's container should), otherwise it exits after one round.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import sys
import time
import urllib.request


def one(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read(4096).decode(errors="replace")
    except Exception as e:  # every failure counts, by kind
        return f"error: {type(e).__name__}"
    for word in body.split():
        if word.startswith("pod="):
            return word[4:]
    return body.strip()[:40] or "(empty)"


def round_(url: str, n: int, concurrency: int, timeout: float) -> collections.Counter:
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return collections.Counter(pool.map(lambda _: one(url, timeout), range(n)))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="loadgen")
    p.add_argument("url")
    p.add_argument("-n", type=int, default=100, help="requests per round (at most 10000)")
    p.add_argument("-c", type=int, default=4, help="concurrent requests")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--every", type=float, default=0.0, help="repeat a round every N seconds")
    a = p.parse_args(argv)
    url = a.url if "://" in a.url else "http://" + a.url
    n = max(1, min(a.n, 10_000))
    while True:
        start = time.monotonic()
        counts = round_(url, n, max(1, min(a.c, 32)), a.timeout)
        took = time.monotonic() - start
        print(f"{n} requests to {url} in {took:.2f}s:", flush=True)
        for who, k in counts.most_common():
            print(f"  {who:40s} {k:6d}  {k * 100 / n:5.1f}%", flush=True)
        if not a.every:
            return 0 if not any(w.startswith("error:") for w in counts) else 1
        time.sleep(a.every)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
