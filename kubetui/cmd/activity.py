"""``kubetui activity``: the reconcile log, every controller sync and scheduling cycle, as it happens.

No upstream command does this: kube-controller-manager's reasoning lives in
its verbose logs and its writes in the API server's audit log. kubetui keeps
both, per reconcile, in the control plane's reconcile log and serves it as
``GET /apis/controlplane.kubetui.dev/v1alpha1/[namespaces/NS/]reconciles``
(``kubetui.client.reconciles``). ``--object deploy/web`` keeps the
Deployment's records and its ReplicaSets' and their pods' (in order), and
``--follow`` keeps printing new ones (a long poll).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any, Callable

from kubetui.cmdutil import CLIError, resolve_state_dir

#: the long poll's wait: under HTTPClient's 30 s request timeout
FOLLOW_WAIT_SECONDS = 20.0


async def print_activity(client: Any, *, namespace: str | None, object: str | None, controller: str | None,
                         tail: int | None, follow: bool, as_json: bool, writes: bool = True, silent: bool = False,
                         out: Callable[[str], None] = print, stop_after: int | None = None) -> int:
    """Print the records (``tail`` last ones, then with ``follow`` every new one); returns how many were printed.

    ``stop_after`` ends following after that many records (tests)."""
    from kubetui.client import reconciles as rl
    from kubetui.client import views

    doc = await views.reconciles(client, object=object, namespace=namespace, controller=controller, tail=tail,
                                 silent=silent)
    printed = 0
    since = int(doc.get("lastSeq") or 0)
    while True:
        for item in doc.get("items") or ():
            if as_json:
                out(json.dumps(item))
            else:
                for line in rl.lines(rl.ReconcileRecord.from_dict(item), with_writes=writes):
                    out(line)
            printed += 1
            if stop_after is not None and printed >= stop_after:
                return printed
        if not follow:
            return printed
        doc = await views.reconciles(client, since=since, object=object, namespace=namespace,
                                     controller=controller, wait=FOLLOW_WAIT_SECONDS, silent=silent)
        oldest = int(doc.get("oldestSeq") or 0)
        if oldest > since + 1:
            out(f"… records #{since + 1} to #{oldest - 1} left the ring before they were read")
        since = max(since, int(doc.get("lastSeq") or 0))


def cmd_activity(args: argparse.Namespace) -> int:
    from kubetui.api.errors import StatusError
    from kubetui.client.http import HTTPClient
    from kubetui.client.reconciles import object_filter

    kubeconfig = Path(getattr(args, "kubeconfig", None) or resolve_state_dir(args) / "kubeconfig")
    if not kubeconfig.exists():
        raise CLIError(f"no cluster at {kubeconfig.parent}: start one with `kubetui up`")
    obj = None
    if args.object:
        try:
            obj = object_filter(args.object, args.namespace)
        except ValueError as e:
            raise CLIError(f"error: {e}") from None

    async def run() -> int:
        client = HTTPClient.from_kubeconfig(kubeconfig)
        try:
            return await print_activity(client, namespace=args.namespace, object=obj,
                                        controller=args.controller, tail=None if args.all else args.tail,
                                        follow=args.follow, as_json=args.json, writes=not args.no_writes,
                                        silent=args.silent)
        finally:
            await client.close()
    try:
        asyncio.run(run())
    except StatusError as e:
        raise CLIError(f"reading the reconcile log failed: {e.message}") from None
    except KeyboardInterrupt:
        return 130
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "activity", help="the reconcile log: what each controller and the scheduler observed, decided and wrote",
        description="Print the control plane's reconcile log: one record per controller sync and scheduling "
                    "cycle, with what it observed, what it decided and the API writes it made "
                    "(resourceVersion before -> after).")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new records as they come")
    p.add_argument("--object", metavar="TYPE/NAME",
                   help="only this object's records and its children's (deploy/web: its ReplicaSets' and pods')")
    p.add_argument("-n", "--namespace", default=None,
                   help="only this namespace (and the namespace of --object; default: all, --object: default)")
    p.add_argument("--controller", metavar="NAME", help="only this controller's records (deployment, scheduler...)")
    p.add_argument("--tail", type=int, default=50, help="how many of the latest records to print (default: 50)")
    p.add_argument("--all", action="store_true", help="every record the ring holds")
    p.add_argument("--no-writes", action="store_true", help="leave out the API writes")
    p.add_argument("--silent", action="store_true",
                   help="also the syncs that said and wrote nothing (the garbage collector looking at each pod…)")
    p.add_argument("--json", action="store_true", help="one JSON record per line")
    p.add_argument("--kubeconfig", metavar="FILE", default=argparse.SUPPRESS,
                   help="the cluster's kubeconfig (default: the cluster's state dir)")
    p.add_argument("--name", default=argparse.SUPPRESS, help="cluster name (default: default)")
    p.add_argument("--state-dir", metavar="DIR", default=argparse.SUPPRESS, help="the cluster's state dir")
    p.set_defaults(func=cmd_activity)
