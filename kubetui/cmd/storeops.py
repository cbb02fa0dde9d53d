"""``kubetui store snapshot save|restore`` and ``kubetui store migrate``: etcd's backup, restore and moving a
cluster between its two store backends.

On a kubeadm cluster a backup is ``etcdctl snapshot save`` and a restore is
``etcdutl snapshot restore`` into a new data directory, with kube-apiserver
stopped (upstream's "Operating etcd clusters for Kubernetes"). kubetui does the
same on both backends:

- ``--store etcd``: ``etcdctl snapshot save`` against the cluster's member (a
  temporary member on the data directory when the cluster is stopped);
  ``etcdutl snapshot restore`` into a new directory, which also verifies the
  file's hash, so a corrupt snapshot is refused before anything is replaced;
- ``--store tinydb``: the store's state at one revision written as a TinyDB
  checkpoint (the checkpoint plus the write-ahead log after it, folded into one
  file) with a SHA-256 of its contents in its ``meta`` table.

A restore stops the control plane (nodes keep running), puts the old store
aside (``store.before-restore-<time>``, ``etcd.before-restore-<time>``),
and starts it again. The store's revision is moved past the old one (etcdutl's
``--bump-revision``): every client watching from a newer resourceVersion gets
410 Gone and relists, instead of waiting for revisions that already happened.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from kubetui.cmdutil import CLIError, add_cluster_selector, resolve_state_dir
from kubetui.store import KeyValue, Store, StoreError
from kubetui.store.checkpoint import Checkpoint
from kubetui.store.errors import Corrupt
from kubetui.store.etcdserver import INSTALL_HINT, EtcdServer, find_binary
from kubetui.store.kv import encode_value

SNAPSHOT_KIND = "kubetui-tinydb-snapshot"


def register(sub: Any) -> None:
    """Add ``snapshot save|restore`` and ``migrate`` under ``kubetui store``."""
    snap = sub.add_parser("snapshot", help="save or restore a snapshot of the store (etcdctl snapshot)",
                          description="A backup of every object at one revision, and restoring it: the "
                                      "cluster comes back to that moment.")
    ssub = snap.add_subparsers(dest="snapshot_command", metavar="COMMAND", required=True)
    save = ssub.add_parser("save", help="write a snapshot to FILE")
    save.add_argument("file", metavar="FILE")
    restore = ssub.add_parser("restore", help="bring the cluster back to the snapshot in FILE",
                              description="Verify FILE, stop the control plane, put the store aside, restore, "
                                          "and start the control plane again (nodes keep running).")
    restore.add_argument("file", metavar="FILE")
    migrate = sub.add_parser("migrate", help="move the cluster's objects to the other store backend",
                             description="Copy every object from the cluster's store to the other backend, "
                                         "verify the counts and values, and switch the cluster to it.")
    migrate.add_argument("--to", choices=("tinydb", "etcd"), required=True)
    env = sub.add_parser("env", help="what etcdctl needs to reach the cluster's etcd (endpoints, certificates)",
                         description="Print ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY as "
                                     "shell exports (eval \"$(kubetui store env)\", then plain etcdctl works), "
                                     "or with -o flags the same as etcdctl's --endpoints/--cacert/--cert/--key.")
    env.add_argument("-o", "--output", choices=("env", "flags"), default="env")
    for sp in (save, restore, migrate, env):
        add_cluster_selector(sp)
        sp.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    state = resolve_state_dir(args)
    try:
        if args.store_command == "migrate":
            return asyncio.run(migrate(state, args.to, say=print))
        if args.store_command == "env":
            print(etcdctl_env(state, args.output))
            return 0
        if args.snapshot_command == "save":
            return asyncio.run(save_snapshot(state, Path(args.file), say=print))
        return asyncio.run(restore_snapshot(state, Path(args.file), say=print))
    except (StoreError, OSError, RuntimeError) as e:
        raise CLIError(str(e)) from None


def backend_of(state: Path) -> str:
    from kubetui.cluster.settings import ClusterSettings
    s = ClusterSettings.load(state)
    return s.store if s is not None else "tinydb"


# ------------------------------------------------------------------ reaching a store


@asynccontextmanager
async def etcd_member(state: Path) -> AsyncIterator[tuple[str, Any]]:
    """(endpoint, TLS) of the cluster's member: the running one, or a temporary one on its data dir."""
    from kubetui.apiserver.certs import ensure_pki
    from kubetui.apiserver.etcdcerts import ensure_etcd_certs, read_etcd_endpoint
    from kubetui.netutil import free_port
    from kubetui.statedir import running_pid
    found = read_etcd_endpoint(state)
    if found is not None and running_pid(state) is not None:
        yield found
        return
    if find_binary("etcd") is None:
        raise CLIError(INSTALL_HINT)
    tls = ensure_etcd_certs(ensure_pki(state, state.name))
    server = EtcdServer(state / "etcd", free_port(), free_port(), state / "etcd.log", name=_name(state), tls=tls,
                        pid_path=state / "etcd.pid")
    await asyncio.to_thread(server.start)
    try:
        yield server.endpoint, tls
    finally:
        await asyncio.to_thread(server.stop)


def _name(state: Path) -> str:
    from kubetui.cluster.settings import ClusterSettings
    s = ClusterSettings.load(state)
    return s.name if s is not None else state.name


@asynccontextmanager
async def open_store(state: Path, backend: str) -> AsyncIterator[Any]:
    """The cluster's store, for reading (TinyDB read-only; etcd through its member)."""
    if backend == "etcd":
        from kubetui.store.etcd import EtcdStore
        async with etcd_member(state) as (endpoint, tls):
            s = EtcdStore(endpoint, ssl_context=tls.client_context())
            await s.open()
            try:
                yield s
            finally:
                await s.close()
        return
    from kubetui.cmd.store import _open
    s = await _open(state / "store")
    try:
        yield s
    finally:
        await s.close()


def _etcdctl(endpoint: str, tls: Any, *args: str) -> str:
    binary = find_binary("etcdctl")
    if binary is None:
        raise CLIError(INSTALL_HINT)
    # etcdctl refuses to run when a flag given here is also set as ETCDCTL_<FLAG> in the environment
    # ("conflicting environment variable is shadowed"): a learner who ran `eval "$(kubetui store env)"`
    # has them all set. The flags name this cluster, so the environment's copies go.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    r = subprocess.run([binary, "--endpoints", endpoint, *tls.etcdctl_flags(), *args],
                       capture_output=True, text=True, timeout=300, env=env)
    if r.returncode != 0:
        raise CLIError(f"etcdctl {' '.join(args)}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def _etcdutl(*args: str) -> str:
    binary = find_binary("etcdutl")
    if binary is None:
        raise CLIError(INSTALL_HINT)
    r = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise CLIError(f"etcdutl {args[0]} {args[1] if len(args) > 1 else ''}: "
                       f"{(r.stderr.strip() or r.stdout.strip()).splitlines()[-1:]}")
    return r.stdout


def etcdctl_env(state: Path, output: str = "env") -> str:
    """How etcdctl reaches the running cluster's etcd: shell exports of etcdctl's own ``ETCDCTL_*``
    variables (each flag's environment twin), or the same as flags. On a kubeadm node these are
    ``--endpoints https://127.0.0.1:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt --cert ... --key ...``."""
    import shlex

    from kubetui.apiserver.etcdcerts import read_etcd_endpoint
    from kubetui.statedir import running_pid
    if backend_of(state) != "etcd":
        raise CLIError(f"cluster at {state} keeps its objects in TinyDB, not etcd: `kubetui store dump` reads it; "
                       "for etcd start a cluster with `kubetui up --store etcd` (or `kubetui store migrate --to etcd`)")
    found = read_etcd_endpoint(state)
    if found is None or running_pid(state) is None:
        raise CLIError(f"the cluster at {state} is not running: start it with `kubetui up`")
    endpoints, tls = found
    pairs = [("ENDPOINTS", endpoints), ("CACERT", str(tls.ca)), ("CERT", str(tls.client_cert)),
             ("KEY", str(tls.client_key))]
    if output == "flags":
        return " ".join(f"--{k.lower()} {shlex.quote(v)}" for k, v in pairs)
    lines = [f"export ETCDCTL_{k}={shlex.quote(v)}" for k, v in pairs]
    binary = find_binary("etcdctl")
    if binary is not None and shutil.which("etcdctl") != binary:
        lines.append(f"export PATH={shlex.quote(str(Path(binary).parent))}:\"$PATH\"  # etcdctl, etcdutl")
    return "\n".join(lines)


# ------------------------------------------------------------------ TinyDB snapshots


def _digest(revision: int, kvs: list[KeyValue]) -> str:
    h = hashlib.sha256(f"{revision}\n".encode())
    for kv in sorted(kvs, key=lambda kv: kv.key):
        h.update(json.dumps([kv.key, kv.create_revision, kv.mod_revision, kv.version]).encode())
        h.update(encode_value(kv.value))
    return h.hexdigest()


def write_tinydb_snapshot(path: Path, revision: int, kvs: list[KeyValue]) -> None:
    """A TinyDB checkpoint at ``revision`` whose ``meta`` also holds the SHA-256 of what it holds."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    cp = Checkpoint(tmp)
    cp.save(revision, kvs)
    cp.close()
    doc = json.loads(tmp.read_text())
    doc["meta"]["1"].update({"kind": SNAPSHOT_KIND, "keys": len(kvs), "sha256": _digest(revision, kvs)})
    tmp.write_text(json.dumps(doc, separators=(",", ":")))
    tmp.replace(path)


def read_tinydb_snapshot(path: Path) -> tuple[int, list[KeyValue]]:
    """The snapshot's revision and key-values, or ``Corrupt`` when it does not check out."""
    try:
        doc = json.loads(path.read_bytes())
        meta = doc["meta"]["1"]
        if meta.get("kind") != SNAPSHOT_KIND:
            raise Corrupt(f"{path} is not a kubetui TinyDB snapshot")
        revision, kvs = Checkpoint(path, read_only=True).load()
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise Corrupt(f"{path} is not a readable snapshot: {e}") from None
    if len(kvs) != meta.get("keys") or _digest(revision, kvs) != meta.get("sha256"):
        raise Corrupt(f"{path}: the snapshot's contents do not match its SHA-256; refusing it")
    return revision, kvs


# ------------------------------------------------------------------ the commands


async def save_snapshot(state: Path, path: Path, *, say=print) -> int:
    backend = backend_of(state)
    path = path.resolve()
    if backend == "etcd":
        async with etcd_member(state) as (endpoints, tls):
            # etcdctl takes a snapshot from one member ("snapshot must be requested to one selected
            # node"): with several control planes, the first that answers
            *others, last = endpoints.split(",")
            for endpoint in others:
                try:
                    await asyncio.to_thread(_etcdctl, endpoint, tls, "snapshot", "save", str(path))
                    break
                except CLIError:
                    continue
            else:
                await asyncio.to_thread(_etcdctl, last, tls, "snapshot", "save", str(path))
        status = json.loads(await asyncio.to_thread(_etcdutl, "snapshot", "status", str(path), "-w", "json"))
        say(f"Snapshot saved at {path} (etcd: revision {status['revision']}, {status['totalKey']} keys, "
            f"hash {status['hash']:x})")
        return 0
    async with open_store(state, "tinydb") as s:
        kvs, revision = s.range("/"), s.revision
    await asyncio.to_thread(write_tinydb_snapshot, path, revision, kvs)
    say(f"Snapshot saved at {path} (tinydb: revision {revision}, {len(kvs)} keys)")
    return 0


async def restore_snapshot(state: Path, path: Path, *, say=print) -> int:
    from kubetui.cmd.cluster import ensure_running, stop_control_plane
    from kubetui.statedir import running_pid
    from kubetui.cluster.settings import ClusterSettings
    backend = backend_of(state)
    if not path.is_file():
        raise CLIError(f"no snapshot at {path}")
    settings = ClusterSettings.load(state)
    if settings is not None and settings.control_planes > 1:
        # Upstream restores the same snapshot on every member (etcdutl snapshot restore with the
        # member's --name and the whole --initial-cluster) and starts them all together. Not built here.
        raise CLIError(f"restoring a snapshot into a cluster of {settings.control_planes} etcd members is not "
                       "supported yet (each member would need `etcdutl snapshot restore` with the whole "
                       "--initial-cluster); nothing was changed. Restore into a cluster with one control plane.")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if backend == "etcd":
        # etcdutl restores into a new directory and checks the snapshot's hash on the way:
        # a corrupt file fails here, before the cluster is touched.
        tmp = Path(tempfile.mkdtemp(prefix="etcd.restore-", dir=state))
        target = tmp / "etcd"
        peer = "http://127.0.0.1:2380"
        try:
            await asyncio.to_thread(_etcdutl, "snapshot", "restore", str(path), "--data-dir", str(target),
                                    "--name", _name(state), "--initial-cluster", f"{_name(state)}={peer}",
                                    "--initial-advertise-peer-urls", peer)
        except CLIError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CLIError(f"{path} is not a usable etcd snapshot; nothing was changed ({e})") from None
    else:
        try:
            revision, kvs = await asyncio.to_thread(read_tinydb_snapshot, path)
        except Corrupt as e:
            raise CLIError(f"{e}; nothing was changed") from None
    was_running = running_pid(state) is not None
    if was_running:
        say("stopping the control plane (nodes keep running)")
        stop_control_plane(state)
    try:
        old = 0
        if (state / ("etcd" if backend == "etcd" else "store")).is_dir():
            try:
                async with open_store(state, backend) as s:
                    old = s.revision
            except (StoreError, CLIError, RuntimeError):
                old = 0  # a damaged store: nothing to move past
        if backend == "etcd":
            if (state / "etcd").exists():
                (state / "etcd").rename(state / f"etcd.before-restore-{stamp}")
            target.rename(state / "etcd")
            shutil.rmtree(tmp, ignore_errors=True)
            async with open_store(state, "etcd") as s:
                restored = s.revision
                await s.bump_revision(old)
                keys = s.count("/")
        else:
            new_dir = state / f"store.restore-{stamp}"
            new_dir.mkdir()
            cp = Checkpoint(new_dir / "state.json")
            cp.save(max(revision, old), kvs)
            cp.close()
            if (state / "store").exists():
                (state / "store").rename(state / f"store.before-restore-{stamp}")
            new_dir.rename(state / "store")
            restored, keys = revision, len(kvs)
        say(f"restored {keys} keys from {path} (the snapshot's revision {restored}; the old store is in "
            f"{state / (backend + '.before-restore-' + stamp) if backend == 'etcd' else state / ('store.before-restore-' + stamp)})")
        if old > restored:
            say(f"the revision continues after {old} (the old store's): watches from a newer resourceVersion get "
                f"410 Gone and relist")
    finally:
        if was_running:
            say("starting the control plane again")
            ensure_running(state, None, wait_for="serving")
    return 0


async def migrate(state: Path, to: str, *, say=print) -> int:
    """Copy every object to the ``to`` backend, verify, and switch the cluster to it."""
    from kubetui.cluster.settings import ClusterSettings
    from kubetui.cmd.cluster import ensure_running, stop_control_plane
    from kubetui.statedir import running_pid
    settings = ClusterSettings.load(state)
    if settings is None:
        raise CLIError(f"no cluster at {state}: start one with `kubetui up`")
    if settings.store == to:
        raise CLIError(f"cluster {settings.name!r} already keeps its objects in {to}")
    if to == "etcd" and find_binary("etcd") is None:
        raise CLIError(INSTALL_HINT)
    was_running = running_pid(state) is not None
    if was_running:
        say("stopping the control plane (nodes keep running)")
        stop_control_plane(state)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest_dir = state / ("etcd" if to == "etcd" else "store")
    try:
        async with open_store(state, settings.store) as src:
            kvs, src_revision = src.range("/"), src.revision
        if dest_dir.exists():
            dest_dir.rename(state / f"{dest_dir.name}.before-migrate-{stamp}")
        if to == "tinydb":
            # TinyDB keeps any revisions it is given: every object keeps its resourceVersion.
            dest_dir.mkdir()
            cp = Checkpoint(dest_dir / "state.json")
            cp.save(src_revision, kvs)
            cp.close()
            async with open_store(state, "tinydb") as dst:
                _verify(kvs, dst.range("/"), same_revisions=True)
            note = f"every object keeps its resourceVersion; the revision continues from {src_revision}"
        else:
            # etcd numbers its own revisions: every object gets a new resourceVersion, and the
            # revision is moved past the old store's so no client's resourceVersion is ahead of it.
            async with open_store(state, "etcd") as dst:
                sem = asyncio.Semaphore(64)

                async def put(kv: KeyValue) -> None:
                    async with sem:
                        await dst.create(kv.key, kv.value)
                await asyncio.gather(*(put(kv) for kv in kvs))
                await dst.bump_revision(src_revision)
                _verify(kvs, dst.range("/"), same_revisions=False)
                note = (f"every object has a new resourceVersion (etcd's revisions); the revision continues "
                        f"after {src_revision}, so clients' watches get 410 Gone and relist")
        settings.store = to
        settings.save(state)
        say(f"migrated {len(kvs)} keys from {'etcd' if to == 'tinydb' else 'tinydb'} to {to} (counts and values "
            f"verified); {note}")
    finally:
        if was_running:
            say("starting the control plane again")
            ensure_running(state, None, wait_for="serving")
    return 0


def _verify(src: list[KeyValue], dst: list[KeyValue], *, same_revisions: bool) -> None:
    if len(src) != len(dst):
        raise StoreError(f"migration copied {len(dst)} keys of {len(src)}; the cluster still uses its old store")

    def body(kv: KeyValue) -> dict:
        v = dict(kv.value)
        v["metadata"] = {k: x for k, x in (v.get("metadata") or {}).items() if k != "resourceVersion"}
        return v
    for a, b in zip(src, dst):
        if a.key != b.key or body(a) != body(b) or (same_revisions and a.mod_revision != b.mod_revision):
            raise StoreError(f"migration: {a.key} differs after the copy; the cluster still uses its old store")
