"""``kubetui bench class``: 60 learners report progress to a class server; how soon the dashboard shows it.

As a class runs: ``kubetui class serve`` in its own process (HTTPS, the
class's CA, rate limits on), learners joined with the class code, each
posting one progress event at a time as a learner's kubetui does (a check
every ``--interval`` seconds on average, jittered), and one teacher
dashboard long-polling ``/class/v1/dashboard?wait=SEQ``. Each learner checks
one step over and over, so its cell's attempt count names the event: an
event is *shown* when a dashboard view first carries that count.

- **event -> dashboard**: from the learner starting its POST to the teacher
  receiving a view with it, p50/p99; target p99 <= 1 s (issue 17).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

TARGET_P99_S = 1.0
CODE = "BNCH-CLAS-2345"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


async def _run(url: str, ctx: ssl.SSLContext, teacher: str, learners: int, seconds: float,
               interval: float) -> dict[str, Any]:
    import aiohttp

    sent: dict[tuple[str, int], float] = {}
    latencies: list[float] = []
    shown: dict[str, int] = {}
    conn = aiohttp.TCPConnector(ssl=ctx, limit=learners + 4)
    async with aiohttp.ClientSession(connector=conn) as http:
        tokens = {}
        for i in range(learners):
            name = f"learner-{i:02d}"
            async with http.post(f"{url}/class/v1/join", json={"code": CODE, "name": name, "replace": True}) as r:
                tokens[name] = (await r.json())["token"]
        stop = time.monotonic() + seconds
        errors = 0

        async def learner(name: str, token: str) -> None:
            nonlocal errors
            rnd = random.Random(name)
            n = 0
            hdr = {"Authorization": f"Bearer {token}"}
            await asyncio.sleep(rnd.uniform(0, interval))
            while time.monotonic() < stop:
                n += 1
                ev = {"id": uuid.uuid4().hex, "t": time.time(), "lesson": "bench", "step": "s1", "event": "check",
                      "passed": False, "failing": 0, "message": "bench"}
                sent[(name, n)] = time.monotonic()
                async with http.post(f"{url}/class/v1/events", json={"events": [ev]}, headers=hdr) as r:
                    if r.status != 200:
                        errors += 1
                    await r.read()
                await asyncio.sleep(rnd.uniform(0.5 * interval, 1.5 * interval))

        async def dashboard() -> None:
            seq = -1
            hdr = {"Authorization": f"Bearer {teacher}"}
            while time.monotonic() < stop + 2:
                async with http.get(f"{url}/class/v1/dashboard?wait={seq}&timeout=2", headers=hdr) as r:
                    view = await r.json()
                    if r.status != 200:
                        raise RuntimeError(f"dashboard: {r.status} {view.get('message')}")
                now = time.monotonic()
                seq = view["seq"]
                for row in view["learners"]:
                    got = row["cells"].get("bench/s1", {}).get("attempts", 0)
                    for k in range(shown.get(row["learner"], 0) + 1, got + 1):
                        t0 = sent.get((row["learner"], k))
                        if t0 is not None:
                            latencies.append(now - t0)
                    shown[row["learner"]] = max(shown.get(row["learner"], 0), got)

        await asyncio.gather(dashboard(), *(learner(n, t) for n, t in tokens.items()))
    return {"learners": learners, "seconds": seconds, "events": len(sent), "shown": len(latencies),
            "errors": errors, "eventsPerSecond": round(len(sent) / seconds, 1),
            "p50Ms": round(_pct(latencies, 50) * 1000, 1), "p99Ms": round(_pct(latencies, 99) * 1000, 1),
            "maxMs": round(max(latencies) * 1000, 1) if latencies else None,
            "targetP99Ms": TARGET_P99_S * 1000, "loadAverage": [round(x, 2) for x in os.getloadavg()]}


def run_bench(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="kubetui-bench-class-"))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kubetui", "class", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--dir", str(folder), "--code", CODE],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    print("the class server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.1)
        ctx = ssl.create_default_context(cadata=(folder / "pki" / "ca.crt").read_text())
        teacher = (folder / "teacher.token").read_text().strip()
        res = asyncio.run(_run(f"https://127.0.0.1:{port}", ctx, teacher, args.learners, args.seconds,
                               args.interval))
    finally:
        proc.terminate()
        proc.wait(20)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        ok = res["p99Ms"] <= res["targetP99Ms"]
        print(f"{res['learners']} learners, {res['events']} progress events in {res['seconds']:.0f} s "
              f"({res['eventsPerSecond']}/s), {res['errors']} refused")
        print(f"event -> dashboard  p50 {res['p50Ms']} ms  p99 {res['p99Ms']} ms  max {res['maxMs']} ms  "
              f"(target p99 <= {res['targetP99Ms']:.0f} ms: {'met' if ok else 'MISSED'})")
        print(f"load average {' '.join(map(str, res['loadAverage']))}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("class", help="class server: 60 learners' progress events -> dashboard latency",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--learners", type=int, default=60, help="(default: %(default)s)")
    p.add_argument("--seconds", type=float, default=30.0, help="how long learners report (default: %(default)s)")
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between a learner's events, on average (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_bench)
