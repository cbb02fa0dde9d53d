"""Creating a container from an image (upstream: containerd's CRI ``CreateContainer`` + the OCI spec it writes).

What containerd does between the kubelet's ``CreateContainer`` and runc:
look the image up in the node's store, check it is for this node's CPU,
decide the process (:mod:`imageconfig`: Entrypoint/Cmd against
command/args, Env, WorkingDir, User), give the container a writable layer of
its own over the image's layers (:mod:`rootfs`), and write the spec that
``containerinit`` (runc's part) carries out inside the container's
namespaces. :func:`prepare` does all of that and returns a
:class:`Prepared`; the isolated runtime starts it.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import marshal
import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from kubetui.runtime import rootfs
from kubetui.runtime.cri import ContainerConfig, PodSandbox, RuntimeError_
from kubetui.runtime.imageconfig import ConfigError, ProcessSpec, container_process
from kubetui.runtime.imagestore import Image, ImageStore, familiar, node_architecture

INIT_SOURCE = str(Path(__file__).with_name("containerinit.py"))


def _init_path() -> str:
    """containerinit's compiled file when it is current (a node image compiles everything): Python
    runs a ``.pyc`` directly, without compiling the source at every container start."""
    pyc = importlib.util.cache_from_source(INIT_SOURCE)
    try:
        if os.stat(pyc).st_mtime >= os.stat(INIT_SOURCE).st_mtime:
            return pyc
    except OSError:
        pass
    return INIT_SOURCE


INIT = _init_path()

#: The Kubernetes project's busybox (the documentation's manifests say registry.k8s.io/busybox) and
#: Docker Hub's, at any tag, are the node's one built-in BusyBox image: the lessons and the
#: Kubernetes documentation name many tags, and kubetui nodes have no registry to fetch them from.
BUSYBOX_ALIASES = ("docker.io/library/busybox", "registry.k8s.io/busybox", "k8s.gcr.io/busybox",
                   "gcr.io/google-containers/busybox")
BUILTIN_BUSYBOX = "docker.io/library/busybox:latest"


def resolve(store: ImageStore, ref: str) -> Image | None:
    """The image ``ref`` names on this node (BusyBox at any tag falls back to the built-in one)."""
    img = store.resolve(ref)
    if img is not None:
        return img
    from kubetui.runtime.imagestore import ImageStoreError, normalize
    try:
        repo = normalize(ref).split("@")[0].rsplit(":", 1)[0]
    except ImageStoreError:
        return None
    if repo in BUSYBOX_ALIASES:
        img = store.resolve(BUILTIN_BUSYBOX)
        if img is not None and img.builtin:
            return img
    return None


@dataclass
class Prepared:
    """A container ready to start: its process, its directory, and the command that starts it."""

    dir: Path                 # <store>/containers/<id>: upper, work, image (on the node's disk)
    process: ProcessSpec
    argv: list[str]           # nsenter ... unshare ... python3 containerinit.py spec.marshal
    image: Image
    netns: str | None = None  # the pod's network namespace (None: the node's, hostNetwork)
    state: Path | None = None  # the bundle: spec.marshal, merged, start-error (the runtime's state dir)

    def __post_init__(self) -> None:
        if self.state is None:
            self.state = self.dir

    @property
    def spec_path(self) -> Path:
        return self.state / "spec.marshal"

    @property
    def error_file(self) -> Path:
        return self.state / "start-error"


def check_architecture(img: Image, ref: str, node_arch: str | None = None) -> None:
    node_arch = node_arch or node_architecture()
    arch = img.architecture
    if arch and arch != node_arch:
        raise RuntimeError_("CreateContainerError",
                            f'image "{ref}" ({familiar(img.refs[0]) if img.refs else img.id}) is built for '
                            f"linux/{arch}; this node is linux/{node_arch} (exec format error)")


def uts_hostname(sb: PodSandbox) -> str:
    """The hostname a pod's containers see: the pod's, or the node's for a ``hostNetwork`` pod (runc
    shares the host's UTS namespace with it, so ``kubectl debug node/N`` shows the node's name)."""
    return socket.gethostname() if sb.config.host_network else (sb.config.hostname or sb.config.name)


def etc_files(pod_dir: Path, sb: PodSandbox) -> dict[str, str]:
    """/etc/hosts, /etc/hostname and /etc/resolv.conf for the pod's containers (written once per pod)."""
    hostname = sb.config.hostname or sb.config.name
    hosts, name_file, resolv = pod_dir / "hosts", pod_dir / "hostname", pod_dir / "resolv.conf"
    if sb.config.host_network:
        # a hostNetwork pod sees the node's names (as the kubelet gives it the node's /etc/hosts)
        hostname = socket.gethostname()
        if not hosts.exists():
            shutil.copyfile("/etc/hosts", hosts)
    elif not hosts.exists():
        hosts.write_text(rootfs.hosts_file(sb.ip, hostname))
    if not name_file.exists():
        name_file.write_text(hostname + "\n")
    if not resolv.exists():
        shutil.copyfile("/etc/resolv.conf", resolv)
    return {"/etc/hosts": str(hosts), "/etc/hostname": str(name_file), "/etc/resolv.conf": str(resolv)}


# An image's layers never change (content-addressed): what a path resolves to in them, and their
# /etc/passwd, are worked out once per image, not at every container start.
@functools.lru_cache(maxsize=1024)
def _in_image(layers: tuple[str, ...], path: str) -> str:
    return rootfs.secure_join([Path(p) for p in layers], path)


@functools.lru_cache(maxsize=256)
def _image_file(layers: tuple[str, ...], path: str) -> str | None:
    return rootfs.read_file([Path(p) for p in layers], path)


def mountpoint_layer(store: ImageStore, img: Image, lowers: list[Path], points: list[tuple[str, bool]]) -> Path:
    """Docker's "init layer": the mount points the image lacks (``/proc``, ``/etc/hosts``, a volume's
    directory), made once in a read-only layer above the image's and shared by every container of the
    image with the same mounts, instead of in each container's upper directory (a directory or file
    made costs a container start a millisecond or more on a busy node)."""
    key = hashlib.sha256(repr((img.id, sorted(set(points)))).encode()).hexdigest()[:24]
    final = store.root / "mountpoints" / key
    if final.is_dir():
        return final
    tmp = store.root / "mountpoints" / f".tmp-{key}-{os.getpid()}-{id(points)}"
    tmp.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o755)
    try:
        for path, is_file in points:
            rootfs.ensure_mountpoint(tmp, lowers, path, is_file)
        try:
            os.rename(tmp, final)
            final.with_suffix(".image").write_text(img.id)       # removed with the image (ImageStore.remove)
        except OSError:
            if not final.is_dir():                  # not another container's same layer, made meanwhile
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def prepare(store: ImageStore, img: Image, cid: str, sb: PodSandbox, config: ContainerConfig,
            pod_dir: Path, env: dict[str, str], cgroup_procs: list[str], netns_path: str | None,
            tools: dict[str, str], state_root: Path | None = None) -> Prepared:
    """Everything containerd does for ``CreateContainer``; ``env`` is what the kubelet and runtime set.

    The container's writable layer (``upper``, ``work``) goes to the store's ``containers/<id>`` on
    the node's disk; its bundle (the spec, the root filesystem's mount point, the start error) to
    ``state_root/<id>`` (containerd keeps bundles under ``/run``, a tmpfs), or beside the layer."""
    check_architecture(img, config.image)
    lowers = [Path(p) for p in reversed(img.layer_dirs)]        # overlayfs: the top layer first
    key = tuple(str(p) for p in lowers)
    try:
        proc = container_process(
            img.run_config, command=config.command, args=config.args, env=env,
            working_dir=config.working_dir, run_as_user=config.run_as_user,
            run_as_group=config.run_as_group, run_as_non_root=config.run_as_non_root,
            passwd=_image_file(key, "/etc/passwd"), group=_image_file(key, "/etc/group"))
    except ConfigError as e:
        raise RuntimeError_(e.reason, e.message) from None
    mounts, points = [], [("/dev", False)]
    for m in rootfs.container_mounts(etc_files(pod_dir, sb), config.mounts, config.read_only_root_filesystem):
        if m.target == "/dev" or m.target.startswith("/dev/"):
            target = os.path.normpath(m.target)             # inside the container's own /dev tmpfs
        else:
            try:
                target = _in_image(key, m.target)
            except rootfs.RootfsError as e:
                raise RuntimeError_("CreateContainerError", f"failed to prepare the mount at {m.target}: {e}") from None
            points.append((target, m.is_file))
        mounts.append([m.source, target, m.fstype, m.flags, m.data, m.readonly, m.is_file])
    try:
        init_layer = mountpoint_layer(store, img, lowers, points)
    except (rootfs.RootfsError, OSError) as e:
        raise RuntimeError_("CreateContainerError", f"failed to prepare the mount points: {e}") from None
    d = store.containers_dir() / cid
    b = state_root / cid if state_root is not None else d
    upper, work, merged = d / "upper", d / "work", b / "merged"
    for p in (upper, work, merged):
        p.mkdir(parents=True)
    os.chmod(upper, 0o755)
    (d / "image").write_text(img.id)
    lowers = [init_layer, *lowers]
    spec = {"cgroup_procs": cgroup_procs, "hostname": uts_hostname(sb),
            "overlay": {"lower": [str(p) for p in lowers], "upper": str(upper), "work": str(work),
                        "merged": str(merged)},
            "mounts": mounts, "readonly_root": config.read_only_root_filesystem,
            "argv": proc.argv, "cwd": proc.cwd, "uid": proc.uid, "gid": proc.gid, "groups": proc.groups,
            "tty": config.tty, "error_file": str(b / "start-error")}
    # marshal, not JSON: containerinit then imports no json (milliseconds of every start)
    (b / "spec.marshal").write_bytes(marshal.dumps(spec))
    netns = [tools["nsenter"], f"--net={netns_path}"] if netns_path else []
    argv = [*netns, tools["unshare"], "--mount", "--uts", "--pid", "--fork",
            sys.executable, "-I", "-S", INIT, "--hostname", sb.config.hostname or sb.config.name,
            str(b / "spec.marshal")]
    return Prepared(dir=d, process=proc, argv=argv, image=img, netns=netns_path, state=b)


def join_pid_namespace(argv: list[str], path: str, nsenter: str) -> list[str]:
    """A container's start command made to join the PID namespace at ``path`` rather than make one.

    >>> join_pid_namespace(["nsenter", "--net=/n", "unshare", "--mount", "--pid", "--fork", "init"],
    ...                    "/proc/7/ns/pid", "nsenter")
    ['nsenter', '--net=/n', 'nsenter', '--pid=/proc/7/ns/pid', '--no-fork', 'unshare', '--mount', '--fork', 'init']

    ``--no-fork``: nsenter execs unshare in place (the runtime's process stays the one whose child is
    the container's PID 1), and unshare's ``--fork`` child is the first process in the target's namespace.
    """
    i = next(i for i, a in enumerate(argv) if os.path.basename(a) == "unshare")
    j = argv.index("--pid", i)
    return [*argv[:i], nsenter, f"--pid={path}", "--no-fork", *argv[i:j], *argv[j + 1:]]


def exec_argv(tools: dict[str, str], pid: int, spec: Path, cmd: list[str], tty: bool) -> list[str]:
    """``kubectl exec`` in an image's container (runc exec): ``containerinit --exec`` joins its
    cgroup and namespaces (its root filesystem is its mount namespace's root), becomes its user
    with its groups and starts in its working directory."""
    argv = [sys.executable, "-I", "-S", INIT, "--exec", str(pid), str(spec), "--", *cmd]
    if tty:
        # the session and its controlling terminal are made here, with the node's setsid: the
        # image may have no setsid of its own
        argv = [tools["setsid"], "--wait", "--ctty", *argv]
    return argv


def find_tools() -> dict[str, str]:
    """The node's own binaries the runtime runs, by absolute path (the container's PATH is the image's)."""
    out = {}
    for t in ("nsenter", "unshare", "setsid", "sh", "sleep"):
        p = shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin:" + os.environ.get("PATH", ""))
        out[t] = p or t
    return out
