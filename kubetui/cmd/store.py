"""``kubetui store dump|get|history``: look inside the store, like ``etcdctl get --prefix``.

On a real cluster you would run ``etcdctl get /registry/pods --prefix
--keys-only`` to see how kube-apiserver lays objects out in etcd. These
commands do the same on a kubetui cluster's store, whether or not the cluster
is running: they open it read-only (load the checkpoint, replay the log) and
never write.

The store lives in ``<state-dir>/store/`` (state dir: ``--state-dir DIR``, else
``$XDG_DATA_HOME/kubetui/<name>``, else ``~/.local/share/kubetui/<name>``)::

    state.json                 TinyDB checkpoint (tables "state" and "meta")
    wal-<first revision>.log   write-ahead log segments (JSON lines with a CRC)
    lock                       held by the process that writes the store
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from kubetui.cmdutil import CLIError, add_cluster_selector, resolve_state_dir
from kubetui.store.errors import Corrupt, StoreError
from kubetui.store.store import Store


def store_dir(state_dir: Path) -> Path:
    """Where a cluster with state directory ``state_dir`` keeps its store."""
    return state_dir / "store"


def register(subparsers: Any) -> None:
    """Add ``kubetui store ...``."""
    p = subparsers.add_parser(
        "store", help="look inside the cluster's store (etcd): dump, get, history",
        description="Read the cluster's store, as etcdctl reads etcd. Works whether or not "
                    "the cluster runs: the store is opened read-only.")
    sub = p.add_subparsers(dest="store_command", metavar="COMMAND", required=True)

    dump = sub.add_parser("dump", help="every key with its revisions",
                          description="List every key (or those under --prefix) with create/mod "
                                      "revision and version. -o json includes the values.")
    dump.add_argument("--prefix", default="/", help="only keys starting with this (default: /)")
    dump.add_argument("-o", "--output", choices=("table", "json"), default="table")

    get = sub.add_parser("get", help="one key's value", description="Print the value stored under KEY, "
                         "e.g. /registry/pods/default/web-1.")
    get.add_argument("key", metavar="KEY")
    get.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")

    hist = sub.add_parser("history", help="the revisions of one key still in the history",
                          description="Every write of KEY still in the store's event history, oldest first.")
    hist.add_argument("key", metavar="KEY")
    hist.add_argument("-o", "--output", choices=("table", "json"), default="table")

    for sp in (dump, get, hist):
        add_cluster_selector(sp)
        sp.set_defaults(func=run)
    from kubetui.cmd import storeops
    storeops.register(sub)


def run(args: argparse.Namespace) -> int:
    state = resolve_state_dir(args)
    try:
        return asyncio.run(_run(args, state))
    except StoreError as e:
        raise CLIError(str(e)) from None


async def _run(args: argparse.Namespace, state: Path) -> int:
    from kubetui.cmd.storeops import backend_of, open_store
    directory = store_dir(state)
    if backend_of(state) == "etcd":  # a cluster on etcd: read it through its member (started if need be)
        async with open_store(state, "etcd") as store:
            if args.store_command == "history":  # etcd's own MVCC history, not the mirror's window
                oldest, events = await store.key_history(args.key)
                return _history(store, args, events=events, oldest=oldest)
            return _show(store, args, state / "etcd")
    store = await _open(directory)
    try:
        return _show(store, args, directory)
    finally:
        await store.close()


def _show(store: Store, args: argparse.Namespace, directory: Path) -> int:
    if args.store_command == "dump":
        return _dump(store, args)
    if args.store_command == "history":
        return _history(store, args)
    kv = store.get(args.key)
    if kv is None:
        raise CLIError(f"key {args.key} not found in {directory}")
    if args.output == "json":
        print(json.dumps(kv.value, indent=2))
    else:
        import yaml
        print(yaml.safe_dump(kv.value, sort_keys=False, default_flow_style=False), end="")
    return 0


async def _open(directory: Path) -> Store:
    if not directory.is_dir():
        raise StoreError(f"no store at {directory}: start a cluster with `kubetui up`")
    for attempt in range(3):
        store = Store(directory, read_only=True)
        try:
            await store.open()
            return store
        except (FileNotFoundError, Corrupt):
            # A running cluster may have replaced a checkpoint or removed a log
            # segment while we read: read again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _dump(store: Store, args: argparse.Namespace) -> int:
    kvs = store.range(args.prefix)
    if args.output == "json":
        print(json.dumps({
            "revision": store.revision, "oldestRevision": store.oldest_revision,
            "items": [{"key": kv.key, "createRevision": kv.create_revision, "modRevision": kv.mod_revision,
                       "version": kv.version, "value": kv.value} for kv in kvs],
        }, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(kvs)} keys at revision {store.revision}")
    table.add_column("KEY")
    for col in ("CREATE REV", "MOD REV", "VERSION"):
        table.add_column(col, justify="right")
    for kv in kvs:
        table.add_row(kv.key, str(kv.create_revision), str(kv.mod_revision), str(kv.version))
    Console().print(table)
    return 0


def _history(store: Store, args: argparse.Namespace, *, events: list | None = None,
             oldest: int | None = None) -> int:
    events = store.history(args.key) if events is None else events
    oldest = store.oldest_revision if oldest is None else oldest
    if args.output == "json":
        print(json.dumps({
            "key": args.key, "oldestRevision": oldest,
            "events": [{"type": e.type, "revision": e.revision, "createRevision": e.kv.create_revision,
                        "version": e.kv.version} for e in events],
        }, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.key}: writes since revision {oldest}")
    for col in ("REVISION", "TYPE", "CREATE REV", "VERSION"):
        table.add_column(col, justify="right" if col != "TYPE" else "left")
    for e in events:
        table.add_row(str(e.revision), e.type, str(e.kv.create_revision), str(e.kv.version))
    console = Console()
    console.print(table)
    current = store.get(args.key, copy=False)
    if not events:
        console.print(f"no writes of {args.key} in the history (which starts at revision "
                      f"{oldest})" + ("" if current else "; the key does not exist"))
    return 0
