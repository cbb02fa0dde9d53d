"""A pod's volumes on this node: set up before the sandbox, kept current while it runs, torn down after.

Upstream: the kubelet's volume manager (``pkg/kubelet/volumemanager``) and
the volume plugins (``pkg/volume/emptydir``, ``hostpath``, ``configmap``,
``secret``, ``downwardapi``, ``projected``, and the PersistentVolume's own
plugin for a claim). Every volume becomes a directory on the node that the
runtime bind-mounts into containers:

- ``emptyDir``: ``<pod>/volumes/kubernetes.io~empty-dir/<name>``; with
  ``medium: Memory`` a tmpfs mounted there (sized by ``sizeLimit``, else the
  node's memory), whose pages count against the pod's memory cgroup;
- ``hostPath``: the node's path, checked (or created) by its ``type``;
- ``configMap``, ``secret``, ``downwardAPI``, ``projected``: files written by
  ``AtomicWriter`` and rewritten every ``volume_sync_period`` seconds if the
  objects (or the pod's labels and annotations) changed, so mounted files
  follow updates within seconds. Secrets (and projected volumes, which may hold
  them) sit on a tmpfs so they never touch the node's disk. These volumes are
  always mounted read-only, as upstream since Kubernetes 1.9.4;
- ``persistentVolumeClaim``: the bound PersistentVolume's ``hostPath``/``local``
  path. A claim not bound yet (``WaitForFirstConsumer`` binds it right after
  scheduling) is retried on the next sync.

ConfigMaps and Secrets come through ``ObjectCache``, upstream's TTL-based
object manager: pods reading the same object share one request per period.
So an update reaches mounted files within two ``volume_sync_period`` (2 s on
Docker nodes: at most 4 s, 1.7 s measured), where upstream documents "the
kubelet sync period (1 minute) + the cache TTL". Env variables are read once,
when a container is created, and never change: the same as upstream.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import stat
from pathlib import Path
from typing import Any

from kubetui.kubelet import projection
from kubetui.agent.apiclient import APIClient, APIError
from kubetui.kubelet.atomicwriter import AtomicWriter, PayloadError
from kubetui.kubelet.projection import ProjectionError
from kubetui.kubelet.tokens import TokenManager

log = logging.getLogger(__name__)

Obj = dict[str, Any]

API_DATA = ("configMap", "secret", "downwardAPI", "projected")
PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "configMap": "kubernetes.io~configmap",
               "secret": "kubernetes.io~secret", "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected"}
RESOURCES = {"ConfigMap": "configmaps", "Secret": "secrets"}


class VolumeError(Exception):
    """A volume cannot be set up; worded as the kubelet's FailedMount event."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')
        self.volume, self.message = volume, message


class ObjectCache:
    """ConfigMaps and Secrets, re-read at most every ``ttl`` seconds (upstream ``cacheBasedManager``).

    Pods asking for the same object while it is being fetched wait for that one
    request instead of sending their own, as upstream's ``objectStore.Get`` does
    (it locks the item's data while fetching): a burst of 30 pod starts on a node
    needs ``kube-root-ca.crt`` once, not 30 times.
    """

    def __init__(self, api: APIClient, clock, ttl: float) -> None:
        self.api, self.clock, self.ttl = api, clock, ttl
        self._entries: dict[tuple[str, str, str], tuple[float, Obj | None]] = {}
        self._fetching: dict[tuple[str, str, str], asyncio.Future] = {}
        self.tokens = TokenManager(api, clock)  # serviceAccountToken sources (TokenRequest)

    async def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        """The object, or None if it does not exist. Other API errors propagate."""
        key = (kind, namespace, name)
        hit = self._entries.get(key)
        if hit is not None and self.clock.time() - hit[0] < self.ttl:
            return hit[1]
        fetch = self._fetching.get(key)
        if fetch is None or fetch.get_loop() is not asyncio.get_running_loop():
            fetch = self._fetching[key] = asyncio.ensure_future(self._fetch(key))
            fetch.add_done_callback(lambda f, key=key: self._fetched(key, f))
        # shield: one waiter cancelled (its pod deleted meanwhile) does not cancel the others' request
        return await asyncio.shield(fetch)

    def _fetched(self, key: tuple[str, str, str], fetch: asyncio.Future) -> None:
        if self._fetching.get(key) is fetch:
            del self._fetching[key]
        if not fetch.cancelled():
            fetch.exception()       # retrieved: every waiter got it already

    async def _fetch(self, key: tuple[str, str, str]) -> Obj | None:
        kind, namespace, name = key
        now = self.clock.time()
        try:
            obj: Obj | None = await self.api.get(f"/api/v1/namespaces/{namespace}/{RESOURCES[kind]}/{name}")
        except APIError as e:
            if not e.not_found:
                raise
            obj = None
        self._entries[key] = (now, obj)
        return obj

    def forget(self, kind: str, namespace: str, name: str) -> None:
        self._entries.pop((kind, namespace, name), None)


# -- hostPath ---------------------------------------------------------------------

def check_host_path(path: str, typ: str) -> None:
    """Check (and for ``*OrCreate``, create) a hostPath by its ``type`` (upstream ``checkType``).

    ``""`` checks nothing (the directory is created if missing, as Docker did);
    ``DirectoryOrCreate`` makes a 0755 directory, ``FileOrCreate`` an empty 0644 file;
    ``Directory``, ``File``, ``Socket``, ``CharDevice``, ``BlockDevice`` must already be one.
    """
    def is_(test) -> bool:
        try:
            return test(os.stat(path).st_mode)
        except OSError:
            return False
    if typ == "":
        if not os.path.exists(path):
            os.makedirs(path, exist_ok=True)
        return
    if typ == "DirectoryOrCreate":
        if not os.path.exists(path):
            os.makedirs(path, mode=0o755, exist_ok=True)
            return
        typ = "Directory"
    elif typ == "FileOrCreate":
        if not os.path.exists(path):
            try:
                fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
            except OSError as e:
                raise ProjectionError(f"hostPath type check failed: cannot create {path}: {e.strerror}") from e
            os.close(fd)
            return
        typ = "File"
    checks = {"Directory": (stat.S_ISDIR, "a directory"), "File": (stat.S_ISREG, "a file"),
              "Socket": (stat.S_ISSOCK, "a socket file"), "CharDevice": (stat.S_ISCHR, "a character device"),
              "BlockDevice": (stat.S_ISBLK, "a block device")}
    if typ not in checks:
        raise ProjectionError(f"hostPath type {typ!r} is not one of DirectoryOrCreate, Directory, FileOrCreate, "
                              "File, Socket, CharDevice, BlockDevice")
    test, what = checks[typ]
    if not is_(test):
        raise ProjectionError(f"hostPath type check failed: {path} is not {what}")


# -- tmpfs ------------------------------------------------------------------------

MNT_DETACH = 2        # umount2(2) flag: what `umount -l` asks for

_libc = ctypes.CDLL(None, use_errno=True)


def mount_tmpfs(directory: Path, size_bytes: int) -> None:
    """What the emptyDir plugin does for ``medium: Memory`` (``mount -t tmpfs -o size=...``).

    The mount(2) call itself, not a ``mount`` process: every pod's projected
    ServiceAccount volume sits on a tmpfs, and forking ``mount`` from the
    kubelet's event loop cost each pod start several milliseconds during which
    no other pod progressed.
    """
    opts = "mode=0777" + (f",size={size_bytes}" if size_bytes else "")
    if _libc.mount(b"tmpfs", os.fsencode(directory), b"tmpfs", 0, opts.encode()) != 0:
        err = ctypes.get_errno()
        raise ProjectionError(f"mount tmpfs on {directory}: {os.strerror(err)}")


def is_mount_point(directory: Path) -> bool:
    try:
        return os.path.ismount(directory)
    except OSError:
        return False


def unmount(directory: Path) -> None:
    """Lazily unmount ``directory`` if it is a mount point (``umount -l``)."""
    if is_mount_point(directory) and _libc.umount2(os.fsencode(directory), MNT_DETACH) != 0:
        log.warning("umount %s: %s", directory, os.strerror(ctypes.get_errno()))


def mounts_under(root: Path) -> list[Path]:
    """Mount points below ``root`` (deepest first): what a killed kubelet left mounted."""
    out = []
    prefix = str(root).rstrip("/") + "/"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) > 1:
            point = fields[1].encode().decode("unicode_escape")
            if point.startswith(prefix):
                out.append(Path(point))
    return sorted(out, key=lambda p: -len(p.parts))


def dir_usage(directory: str) -> int:
    """Bytes used by the files under ``directory`` (what the kubelet's ``du`` measures for sizeLimit)."""
    total = 0
    for dirpath, _dirs, files in os.walk(directory):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


# -- one pod's volumes ------------------------------------------------------------------

class PodVolumes:
    """Every volume of one pod: ``setup()`` once, ``refresh()`` periodically, ``teardown()`` at the end."""

    def __init__(self, pod: Obj, pod_dir: Path, objects: ObjectCache, *, tmpfs: bool,
                 allocatable: dict[str, float]) -> None:
        self.pod = pod
        self.pod_dir = Path(pod_dir)
        self.objects = objects
        self.tmpfs = tmpfs                      # can this node mount tmpfs (the isolated runtime can)
        self.allocatable = allocatable
        self.paths: dict[str, str] = {}         # volume name -> directory on the node
        self.read_only: set[str] = set()        # API-data volumes: always mounted read-only
        self.size_limits: dict[str, int] = {}   # disk emptyDirs with a sizeLimit
        self._tmpfs_dirs: list[Path] = []

    @property
    def namespace(self) -> str:
        return self.pod["metadata"].get("namespace", "default")

    def _dir(self, plugin: str, name: str) -> Path:
        return self.pod_dir / "volumes" / PLUGIN_DIRS[plugin] / name

    async def setup(self, api: APIClient, pod_ip: str = "") -> dict[str, str]:
        """Make each volume a directory on the node; ``VolumeError`` names the first that cannot be."""
        for v in self.pod["spec"].get("volumes") or []:
            name = v["name"]
            if name in self.paths:
                continue
            try:
                self.paths[name] = await self._setup_one(api, v, pod_ip)
            except (ProjectionError, PayloadError) as e:
                raise VolumeError(name, str(e)) from None
            except APIError as e:
                raise VolumeError(name, e.message or str(e)) from None
            except OSError as e:
                raise VolumeError(name, f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")) from None
        return self.paths

    async def _setup_one(self, api: APIClient, v: Obj, pod_ip: str) -> str:
        name = v["name"]
        if "emptyDir" in v:
            ed = v["emptyDir"] or {}
            d = self._dir("emptyDir", name)
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o777)
            limit = int(projection.parse_quantity(ed["sizeLimit"])) if ed.get("sizeLimit") else 0
            if ed.get("medium") == "Memory" and self.tmpfs:
                # upstream: sizeLimit, else the node's allocatable memory
                self._mount_tmpfs(d, limit or int(self.allocatable.get("memory", 0)))
            elif limit:
                self.size_limits[name] = limit
            return str(d)
        if "hostPath" in v:
            hp = v["hostPath"]
            check_host_path(hp["path"], hp.get("type") or "")
            return hp["path"]
        if any(k in v for k in API_DATA):
            plugin = next(k for k in API_DATA if k in v)
            d = self._dir(plugin, name)
            d.mkdir(parents=True, exist_ok=True)
            if plugin in ("secret", "projected") and self.tmpfs:
                self._mount_tmpfs(d, 0)
            self.read_only.add(name)
            await self._project(v, d, pod_ip)
            return str(d)
        if "persistentVolumeClaim" in v:
            return await self._claim_path(api, v["persistentVolumeClaim"]["claimName"])
        kinds = ", ".join(k for k in v if k != "name")
        raise ProjectionError(f"volume type {kinds} is not supported by kubetui's kubelet")

    def _mount_tmpfs(self, d: Path, size: int) -> None:
        if not is_mount_point(d):
            mount_tmpfs(d, size)
        self._tmpfs_dirs.append(d)

    async def _claim_path(self, api: APIClient, claim: str) -> str:
        try:
            pvc = await api.get(f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims/{claim}")
        except APIError as e:
            if e.not_found:
                raise ProjectionError(f'persistentvolumeclaim "{claim}" not found') from None
            raise
        pv_name = (pvc.get("spec") or {}).get("volumeName")
        if not pv_name or (pvc.get("status") or {}).get("phase") not in (None, "Bound"):
            # WaitForFirstConsumer: the binder binds right after scheduling; the next sync retries.
            raise ProjectionError(f'PersistentVolumeClaim "{claim}" is not bound yet')
        pv = await api.get(f"/api/v1/persistentvolumes/{pv_name}")
        pspec = pv.get("spec") or {}
        path = (pspec.get("hostPath") or pspec.get("local") or {}).get("path")
        if not path:
            raise ProjectionError(f"PersistentVolume {pv_name} is neither hostPath nor local")
        if not os.path.isdir(path):
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o777)     # any pod user may write, as local-path-provisioner's volumes
        return path

    async def _fetch(self, v: Obj) -> dict[tuple[str, str], Obj | None]:
        out: dict[tuple[str, str], Obj | None] = {}
        for kind, obj_name in projection.api_data_sources(v):
            if kind == projection.SA_TOKEN:
                audience, seconds = obj_name.rsplit("|", 1)
                out[(kind, obj_name)] = await self.objects.tokens.get(self.pod, audience, int(seconds))
            else:
                out[(kind, obj_name)] = await self.objects.get(kind, self.namespace, obj_name)
        return out

    async def _project(self, v: Obj, d: Path, pod_ip: str) -> bool:
        payload = projection.volume_payload(v, self.pod, await self._fetch(v), pod_ip, self.allocatable)
        return AtomicWriter(d).write(payload)

    async def refresh(self, pod: Obj, pod_ip: str) -> list[str]:
        """Rewrite every API-data volume whose content changed; returns the FailedMount messages.

        A volume whose object went away keeps its last files (as upstream: the
        error is reported, the pod keeps running with what it had).
        """
        self.pod = pod
        errors = []
        for v in pod["spec"].get("volumes") or []:
            if v["name"] not in self.read_only or v["name"] not in self.paths:
                continue
            try:
                if await self._project(v, Path(self.paths[v["name"]]), pod_ip):
                    log.info("volume %s of pod %s/%s updated", v["name"], self.namespace, pod["metadata"]["name"])
            except (ProjectionError, PayloadError) as e:
                errors.append(str(VolumeError(v["name"], str(e))))
            except APIError as e:
                errors.append(str(VolumeError(v["name"], e.message or str(e))))
            except OSError as e:
                errors.append(str(VolumeError(v["name"], str(e))))
        return errors

    def over_limit(self) -> tuple[str, int] | None:
        """A disk emptyDir using more than its ``sizeLimit``: (volume, limit), for eviction."""
        for name, limit in self.size_limits.items():
            if name in self.paths and dir_usage(self.paths[name]) > limit:
                return name, limit
        return None

    def teardown(self) -> None:
        """Unmount this pod's tmpfs volumes (the caller removes the directory)."""
        for d in reversed(self._tmpfs_dirs):
            unmount(d)
        self._tmpfs_dirs.clear()


# -- node-local PersistentVolume data -------------------------------------------------------

def orphaned_volume_dirs(root: Path, pv_names: set[str], in_use: set[str]) -> list[Path]:
    """Directories under ``root`` with no PersistentVolume of that name, that no pod here mounts.

    The control plane cannot reach a Docker node's disk, so when a node-local
    PV is deleted (reclaim policy ``Delete``), its data is removed here: what
    local-path-provisioner's helper pod does upstream.
    """
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    used = [os.path.realpath(p) for p in in_use]

    def mounted(p: Path) -> bool:
        real = os.path.realpath(p)
        return any(u == real or u.startswith(real + "/") for u in used)
    return [p for p in entries if p.is_dir() and not p.is_symlink() and p.name not in pv_names
            and not mounted(p)]


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
