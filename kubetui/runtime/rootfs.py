"""A container's own root filesystem (upstream: containerd's overlayfs snapshotter + runc's ``rootfs_linux.go``).

Each container of an image gets an overlay mount: the image's layers
(unpacked once in the node's :mod:`~kubetui.runtime.imagestore`) as read-only
lower directories and a writable upper directory of its own on the node's
volume (``<store>/containers/<id>/upper``). Removing the container removes
its upper directory; the layers stay, shared, so a node's disk grows by one
copy of an image however many containers run it. What a container writes
is visible in its upper directory on the node (copy-on-write: a file of the
image that is changed is copied up first).

This module decides, in the kubelet's process and before anything runs:

- where each mount goes *inside the image*, following the image's symlinks
  as if the image were the root (``/var/run`` -> ``/run`` in Debian images),
  never out of it: :func:`secure_join` (runc uses ``filepath-securejoin``);
- the mount points the image lacks, made in the upper directory
  (:func:`ensure_mountpoint`), as runc makes them before mounting;
- the mounts, in runc's order (:func:`container_mounts`): ``/proc``, a
  minimal ``/dev`` (tmpfs with null, zero, full, random, urandom, tty, the
  node's ``/dev/pts`` (see :func:`device_mounts`), a private ``/dev/shm``,
  the ``fd``/``stdin``/... links),
  ``/sys`` read-only, ``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf``,
  then the pod's volumes (parents before children, as containerd sorts them).

``containerinit`` then does it inside the container's namespaces and
enters it with ``pivot_root``. Standard library only: this runs inside the node.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

# mount(2) flags
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_STRICTATIME = 4096, 16384, 1 << 24


class RootfsError(Exception):
    pass


@dataclass(frozen=True)
class MountSpec:
    """One mount inside the container, ``target`` an absolute path in the container's root."""

    source: str
    target: str
    fstype: str = ""          # "" = a bind mount
    flags: int = 0
    data: str = ""
    readonly: bool = False
    is_file: bool = False     # a file bound onto a file (mount point made as an empty file)


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(p: Path) -> bool:
    try:
        return os.getxattr(p, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def lookup(layers: list[Path], rel: str) -> Path | None:
    """The entry ``rel`` names in the merged view of ``layers`` (top first), as overlayfs shows it:
    the topmost layer holding it, unless a whiteout or an opaque directory above hides it.
    The last component is not followed (a symlink is returned as such)."""
    parts = [p for p in rel.strip("/").split("/") if p]
    if not parts:
        return layers[0] if layers else None
    for layer in layers:
        hidden = False
        cur = layer
        for i, part in enumerate(parts):
            cur = cur / part
            try:
                st = os.lstat(cur)
            except (FileNotFoundError, NotADirectoryError):
                break
            if _whiteout(st):
                return None
            if i == len(parts) - 1:
                return cur
            if not stat.S_ISDIR(st.st_mode):
                return None                    # a file here hides a directory below
            if _opaque(cur):
                hidden = True
        # not in this layer; an opaque ancestor here hides the lower layers' entries
        if hidden:
            return None
    return None


def secure_join(layers: list[Path], path: str, max_links: int = 40) -> str:
    """``path`` inside the image with every symlink resolved as if the image were ``/``.

    An absolute link restarts at the image's root, ``..`` stops at it: the result never
    leaves the container's root filesystem.
    """
    todo = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        p = lookup(layers, "/".join(done + [part]))
        if p is not None and p.is_symlink():
            links += 1
            if links > max_links:
                raise RootfsError(f"{path}: too many levels of symbolic links in the image")
            target = os.readlink(p)
            if target.startswith("/"):
                done = []
            todo = [t for t in target.split("/") if t not in ("", ".")] + todo
            continue
        done.append(part)
    return "/" + "/".join(done)


def read_file(layers: list[Path], path: str, limit: int = 1 << 20) -> str | None:
    """A small text file of the image (``/etc/passwd``), or ``None``."""
    p = lookup(layers, secure_join(layers, path))
    if p is None or not p.is_file():
        return None
    try:
        with open(p, "rb") as f:
            return f.read(limit).decode(errors="replace")
    except OSError:
        return None


def ensure_mountpoint(upper: Path, lowers: list[Path], path: str, is_file: bool) -> None:
    """Make ``path`` (resolved, see :func:`secure_join`) exist in the merged view: each missing
    directory and the mount point itself are created in the upper directory (copying a lower
    directory's mode and owner where the upper has to hold one of its children)."""
    layers = [upper, *lowers]
    parts = [p for p in path.strip("/").split("/") if p]
    for i in range(len(parts)):
        rel = "/".join(parts[: i + 1])
        last = i == len(parts) - 1
        up = upper / rel
        found = lookup(layers, rel)
        if found is not None and (os.path.lexists(up) or last):
            continue                                   # already there (merged view)
        if found is not None:
            # a directory of the image: the upper needs it to hold the new child
            st = os.lstat(found)
            if not stat.S_ISDIR(st.st_mode):
                raise RootfsError(f"cannot mount at {path}: /{rel} is not a directory in the image")
            up.mkdir()
            os.chmod(up, stat.S_IMODE(st.st_mode))
            if os.geteuid() == 0:
                os.lchown(up, st.st_uid, st.st_gid)
            continue
        if os.path.lexists(up):                        # a whiteout in the upper: replace it
            up.unlink()
        if last and is_file:
            up.touch(0o644)
        else:
            up.mkdir(0o755)


def device_mounts() -> list[MountSpec]:
    """runc's default mounts for a container (containerd's ``oci.populateDefaultUnixSpec``)."""
    return [
        MountSpec("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV),
        MountSpec("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"),
        # The node's devpts, not a new instance as runc mounts: the terminals of `kubectl exec -it`
        # and `tty: true` are opened by the runtime on the node, and their /dev/pts/N must name the
        # same terminal inside (runc instead opens them in the container's own instance and passes
        # the master back over a socket). The price: a container can list the node's terminals.
        MountSpec("/dev/pts", "/dev/pts", flags=MS_BIND | MS_REC),
        MountSpec("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k"),
        MountSpec("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, readonly=True),
    ]


def container_mounts(etc_files: dict[str, str], volumes: list, readonly_root: bool) -> list[MountSpec]:
    """Every mount of a container, in order: the defaults, the files the runtime writes
    (``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf``: read-only with a read-only root,
    as containerd does), then the volumes sorted parents first (containerd's ``sortMounts``).

    ``volumes`` are ``kubetui.runtime.cri.Mount`` objects (``container_path``, ``host_path``,
    ``readonly``).
    """
    out = device_mounts()
    for target, source in etc_files.items():
        out.append(MountSpec(source, target, readonly=readonly_root, is_file=True, flags=MS_BIND))
    for m in sorted(volumes, key=lambda m: len([p for p in m.container_path.split("/") if p])):
        out.append(MountSpec(m.host_path, m.container_path, readonly=bool(m.readonly),
                             is_file=os.path.isfile(m.host_path), flags=MS_BIND | MS_REC))
    return out


def hosts_file(ip: str, hostname: str, aliases: list[tuple[str, list[str]]] | None = None) -> str:
    """The kubelet's managed /etc/hosts for a pod (``managedHostsFileContent``)."""
    lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
             "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters",
             f"{ip}\t{hostname}"]
    for addr, names in aliases or []:
        lines.append(f"{addr}\t{chr(9).join(names)}")
    return "\n".join(lines) + "\n"
