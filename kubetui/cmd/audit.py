"""``kubetui audit tail``: the API server's audit log (``audit.k8s.io/v1`` Events), as a table.

On a real cluster the audit log is a file on the control-plane node
(``--audit-log-path``); an operator reads it with ``jq`` to answer "who did
what, when". kubetui's is ``<state-dir>/audit.log``, written by the API server
with the cluster's audit policy (``kubetui up --audit-policy-file``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Iterator

from kubetui.apiserver.audit import AUDIT_FILE, TABLE_HEADER, event_matches, event_row
from kubetui.cmdutil import CLIError, add_cluster_selector, resolve_state_dir


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="the API server's audit log: who did what, when",
                              description="Read the API server's audit log (audit.k8s.io/v1 Events, one per "
                                          "request stage, as the cluster's audit policy records them).")
    sub = p.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    tail = sub.add_parser("tail", help="the latest events (-f: keep following)",
                          description="The latest audit events as a table (or JSON lines with -o json).")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    tail.add_argument("--tail", type=int, default=20, metavar="N", help="how many past events (default 20; -1: all)")
    tail.add_argument("--user", help="only requests by (or impersonating) this user")
    tail.add_argument("--verb", help="only this verb (get, list, watch, create, update, patch, delete, ...)")
    tail.add_argument("-n", "--namespace", help="only objects in this namespace")
    tail.add_argument("--resource", help="only this resource (pods, deployments.apps, pods/exec, ...)")
    tail.add_argument("-o", "--output", choices=("table", "json"), default="table")
    add_cluster_selector(tail)
    tail.set_defaults(func=run_tail)


def _events(path: Path, start: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    with path.open("rb") as f:
        f.seek(start)
        while True:
            line = f.readline()
            if not line.endswith(b"\n"):  # a line still being written: read it next time
                return
            try:
                yield json.loads(line), f.tell()
            except ValueError:
                continue


def run_tail(args: argparse.Namespace) -> int:
    path = resolve_state_dir(args) / AUDIT_FILE
    if not path.exists():
        raise CLIError(f"no audit log at {path}: has the cluster's API server served a request yet?")
    filters = dict(user=args.user, verb=args.verb, namespace=args.namespace, resource=args.resource)
    chosen, offset = [], 0
    for ev, offset in _events(path):
        if event_matches(ev, **filters):
            chosen.append(ev)
    if args.tail >= 0:
        chosen = chosen[-args.tail:] if args.tail else []
    widths = [len(h) for h in TABLE_HEADER]

    def emit(events: list[dict[str, Any]], header: bool) -> None:
        if args.output == "json":
            for ev in events:
                print(json.dumps(ev, separators=(",", ":")), flush=True)
            return
        rows = [event_row(ev) for ev in events]
        for row in rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
        if header:
            print("   ".join(h.ljust(w) for h, w in zip(TABLE_HEADER, widths)).rstrip())
        for row in rows:
            print("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), flush=True)

    emit(chosen, header=True)
    while args.follow:
        time.sleep(0.3)
        if path.stat().st_size < offset:  # rotated: start the new file from its beginning
            offset = 0
        fresh = []
        for ev, offset in _events(path, offset):
            if event_matches(ev, **filters):
                fresh.append(ev)
        emit(fresh, header=False)
    return 0
