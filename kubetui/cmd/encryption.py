"""``kubetui store rotate-key``: rotate the key that encrypts Secrets at rest.

Upstream rotation is a procedure an admin runs by hand
(https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/#rotating-a-decryption-key):
add a new key, restart every API server, make it the first key, restart
again, rewrite every Secret (``kubectl get secrets -A -o json | kubectl
replace -f -``), then drop the old key. ``rotate-key`` does the same in one go:

1. writes ``<state>/encryption-config.yaml`` with a new AES-GCM key first
   (``key<N+1>``), the key that was first second (so anything not yet rewritten
   still reads), and drops older keys no stored Secret still uses;
2. re-encrypts every Secret not written with the new key, as a storage-level
   write (each Secret's resourceVersion changes, watchers see MODIFIED):
   - cluster stopped: this command opens the store and rewrites them itself;
   - cluster running: the API server reloads the file (as kube-apiserver's
     ``--encryption-provider-config-automatic-reload``) and rewrites them;
     this command waits, reading the store read-only, until none is left on
     an old key.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from kubetui.apiserver import encryption
from kubetui.apiserver.encryption import EncryptingStore
from kubetui.cmdutil import CLIError, add_cluster_selector, resolve_state_dir
from kubetui.store import Store, StoreError

WAIT_ROUNDS = 120       # while a cluster runs: look this many times...
WAIT_INTERVAL = 0.5     # ...this far apart (the API server polls the file every 2 s)


def register(subparsers: Any) -> None:
    """Add ``rotate-key`` under ``kubetui store`` (registered by ``kubetui.cmd.store``)."""
    store = subparsers.choices.get("store")
    if store is None:
        return
    sub = next(a for a in store._actions if isinstance(a, argparse._SubParsersAction))
    p = sub.add_parser(
        "rotate-key", help="rotate the key that encrypts Secrets at rest (clusters started with --encrypt-secrets)",
        description="Add a new AES-GCM key as the first key of <state>/encryption-config.yaml, keep the previous "
                    "key for reading, drop older unused keys, and re-encrypt every Secret with the new key. "
                    "Works whether or not the cluster runs.")
    add_cluster_selector(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    state = resolve_state_dir(args)
    path = state / encryption.CONFIG_FILE
    if not path.exists():
        raise CLIError(f"Secrets of the cluster at {state} are not encrypted at rest (no {path.name}): "
                       "start it with `kubetui up --encrypt-secrets`")
    try:
        return asyncio.run(_rotate(state, path))
    except (StoreError, ValueError) as e:
        raise CLIError(str(e)) from None


async def _rotate(state: Path, path: Path) -> int:
    from kubetui.cmd.storeops import backend_of, open_store
    from kubetui.statedir import running_pid
    if backend_of(state) == "etcd":
        if running_pid(state) is not None:
            return await _rotate_running(state, path)
        async with open_store(state, "etcd") as store:  # a temporary member on the cluster's data dir
            return await _rotate_stopped(store, path)
    store = Store(state / "store")
    try:
        await store.open()
    except StoreError as e:
        if "in use" not in str(e):
            raise
        return await _rotate_running(state, path)
    try:
        return await _rotate_stopped(store, path)
    finally:
        await store.close()


async def _rotate_stopped(store: Any, path: Path) -> int:
    enc = EncryptingStore(store, path)
    config, name = encryption.rotated_config(encryption.load_config(path), enc.keys_in_use())
    encryption.write_config(path, config)
    enc.reload()
    count = await enc.rewrite_stale()
    _report(name, config, count)
    return 0


async def _rotate_running(state: Path, path: Path) -> int:
    before = await _keys_in_use(state, path)
    config, name = encryption.rotated_config(encryption.load_config(path), before)
    encryption.write_config(path, config)
    print(f"wrote {path}: the running API server reloads it and re-encrypts every Secret with {name}")
    for _ in range(WAIT_ROUNDS):
        await asyncio.sleep(WAIT_INTERVAL)
        left = (await _keys_in_use(state, path)) - {name}
        if not left:
            _report(name, config, None)
            return 0
    raise CLIError(f"Secrets still use {', '.join(sorted(left))} after {WAIT_ROUNDS * WAIT_INTERVAL:.0f}s: "
                   "is the cluster's API server running with --encrypt-secrets?")


async def _keys_in_use(state: Path, path: Path) -> set[str]:
    from kubetui.cmd.storeops import backend_of, open_store
    if backend_of(state) == "etcd":
        async with open_store(state, "etcd") as store:
            return EncryptingStore(store, path).keys_in_use()
    store = Store(state / "store", read_only=True)
    await store.open()
    try:
        return EncryptingStore(store, path).keys_in_use()
    finally:
        await store.close()


def _report(name: str, config: dict[str, Any], count: int | None) -> None:
    keys = [k["name"] for entry in config.get("resources") or [] for p in entry.get("providers") or []
            if "aesgcm" in p for k in p["aesgcm"].get("keys") or []]
    kept = [k for k in keys if k != name]
    done = f"re-encrypted {count} Secret(s)" if count is not None else "every Secret is re-encrypted"
    print(f"rotated: {name} encrypts from now on; {done}; "
          f"kept for reading until the next rotation: {', '.join(kept) or 'none'}")
