"""kubetui's built-in images, built from the node's own Debian files (upstream: the images a registry would serve).

``kubetui image build`` runs this in a build stage of the node image
(``python3 -m kubetui.runtime.imagebuild STORE``), offline, from the files of
the node's base (a debootstrapped Debian 12). It writes real image layers and
OCI image configs, packs them as a ``docker save`` archive and imports that
into a store baked into the node image (``imagestore.BUILTIN_ROOT``), so a
pod naming ``kubetui/hello:1`` or ``busybox`` runs an image with its own root
filesystem, exactly as one loaded with ``kubetui image load`` would.

Three layers, shared between the images as a registry would share them:

- **busybox**: Debian's BusyBox (``/bin/busybox``, the C library it links,
  a link per applet in ``/bin`` as the official ``busybox`` image has them,
  ``/etc/passwd`` and ``/etc/group`` with root and nobody). Debian 12's
  BusyBox has no ``wget -T`` (it crashes on it; Debian fixed it in 1.36.1-5),
  so ``/bin/wget`` is the few lines of BusyBox sh that run it under
  ``timeout`` (``busybox.WGET_TIMEOUT``). The dynamic build, not
  ``busybox-static``: the static one's ash runs its applets before PATH, so
  ``sh -c 'wget -T 3 ...'`` would still crash.
- **python**: the node's Python 3.11 (interpreter, standard library with its
  ``.pyc`` files, the extension modules a server needs and their libraries),
  without tests, docs and the modules for terminals and databases.
- **kubetui**: ``/opt/kubetui/kubetui`` with the workloads, the DNS server
  and the agent base they use, compiled, and an ``/etc/os-release`` that
  says what the image is.

``busybox`` (and ``kubetui/busybox``) is the first layer alone (``CMD
["sh"]``); ``kubetui/hello:1`` and friends are all three, with the
Entrypoint, Cmd and Env of ``images.catalogue()``.

Standard library only (it runs with the node's Python).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from pathlib import Path

from kubetui.runtime import busybox as bb
from kubetui.runtime import images as catalogue
from kubetui.runtime.imagestore import ImageStore, node_architecture

log = logging.getLogger(__name__)

BUSYBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: extension modules left out of the python layer (terminals, databases, tests, audio)
SKIP_EXTENSIONS = ("_dbm", "_gdbm", "nis", "_curses", "_curses_panel", "readline", "_sqlite3", "_tkinter",
                   "_test", "_ctypes_test", "xxlimited", "xx", "_xxsubinterpreters", "_xxtestfuzz",
                   "audioop", "ossaudiodev", "_crypt")
SKIP_STDLIB_DIRS = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
                    "unittest/test", "site-packages", "dist-packages")
APP_PACKAGES = ("workloads", "dns", "agent")
OS_RELEASE = ('NAME="kubetui built-in images"\nPRETTY_NAME="kubetui built-in image (Python {py} and '
              'BusyBox from Debian 12)"\nID=kubetui\nID_LIKE=debian\nHOME_URL="https://github.com/kubetui"\n')
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"


class Layer:
    """A layer tar being written: entries added once, parents first, owned by root."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.names: set[str] = set()

    def _info(self, name: str, st: os.stat_result | None = None) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = int(st.st_mtime) if st else 0
        return info

    def dirs_for(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.dir("/".join(parts[:i]))

    def dir(self, name: str, mode: int = 0o755) -> None:
        if name in self.names:
            return
        self.dirs_for(name)
        info = self._info(name)
        info.type, info.mode = tarfile.DIRTYPE, mode
        self.tar.addfile(info)
        self.names.add(name)

    def file(self, name: str, data: bytes, mode: int = 0o644, mtime: float = 0) -> None:
        if name in self.names:
            return
        self.dirs_for(name)
        info = self._info(name)
        info.size, info.mode, info.mtime = len(data), mode, int(mtime)
        self.tar.addfile(info, io.BytesIO(data))
        self.names.add(name)

    def symlink(self, name: str, target: str) -> None:
        if name in self.names:
            return
        self.dirs_for(name)
        info = self._info(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        self.tar.addfile(info)
        self.names.add(name)

    def copy(self, path: str) -> None:
        """A file of the node at the same path (a symlink stays a symlink)."""
        name = path.lstrip("/")
        if name in self.names:
            return
        st = os.lstat(path)
        if os.path.islink(path):
            self.symlink(name, os.readlink(path))
            return
        self.dirs_for(name)
        info = self._info(name, st)
        info.size, info.mode = st.st_size, st.st_mode & 0o7777
        with open(path, "rb") as f:
            self.tar.addfile(info, f)
        self.names.add(name)

    def bytes(self) -> bytes:
        self.tar.close()
        return self.buf.getvalue()


def shared_libraries(binaries: list[str]) -> list[str]:
    """What ``ldd`` says the binaries load, each as the path it is found at and its real path."""
    out: set[str] = set()
    for b in binaries:
        r = subprocess.run(["ldd", b], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            for word in line.split():
                if word.startswith("/"):
                    out.add(word)
    return sorted(out)


def copy_with_links(layer: Layer, path: str) -> None:
    """``path`` and, when it is a symlink, what it points at (until a real file)."""
    seen = 0
    while seen < 10:
        layer.copy(path)
        if not os.path.islink(path):
            return
        target = os.readlink(path)
        path = os.path.normpath(os.path.join(os.path.dirname(path), target))
        seen += 1


def busybox_layer(binary: str) -> bytes:
    layer = Layer()
    for d, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777), ("home", 0o755),
                    ("usr", 0o755), ("var", 0o755)):
        layer.dir(d, mode)
    with open(binary, "rb") as f:
        layer.file("bin/busybox", f.read(), 0o755)
    for lib in shared_libraries([binary]):
        copy_with_links(layer, lib)
    names = bb.applets(binary)
    timeout_wget = "wget" in names and "timeout" in names and not bb._wget_has_timeout(binary)
    for name in names:
        if name == "busybox":
            continue
        if name == "wget" and timeout_wget:
            layer.file("bin/wget", bb.WGET_TIMEOUT.format(bb="/bin/busybox").encode(), 0o755)
        else:
            layer.symlink(f"bin/{name}", "busybox")
    layer.file("etc/passwd", PASSWD.encode())
    layer.file("etc/group", GROUP.encode())
    return layer.bytes()


def _skip_extension(name: str) -> bool:
    mod = name.split(".", 1)[0]
    return mod in SKIP_EXTENSIONS or mod.startswith("_test") or mod.startswith("xx")


def python_layer(exclude: set[str]) -> bytes:
    """The interpreter, its standard library and the libraries its extension modules load."""
    layer = Layer()
    exe = os.path.realpath(sys.executable)
    stdlib = sysconfig.get_paths()["stdlib"]
    layer.copy(exe)
    link = os.path.join(os.path.dirname(exe), "python3")
    if os.path.islink(link):
        layer.copy(link)
    extensions = []
    for root, dirs, files in os.walk(stdlib):
        rel = os.path.relpath(root, stdlib)
        dirs[:] = sorted(d for d in dirs if os.path.normpath(os.path.join(rel, d)) not in SKIP_STDLIB_DIRS)
        layer.dir(root.lstrip("/"))
        for f in sorted(files):
            p = os.path.join(root, f)
            if f.endswith(".so"):
                if _skip_extension(f):
                    continue
                extensions.append(p)
            copy_with_links(layer, p)
    for lib in shared_libraries([exe, *extensions]):
        if lib not in exclude and os.path.realpath(lib) not in exclude:
            copy_with_links(layer, lib)
    return layer.bytes()


def app_layer(package_root: Path) -> bytes:
    """kubetui's workloads and DNS server at /opt/kubetui (the PYTHONPATH of the images).

    Each file keeps its modification time: a ``.pyc`` is used only while its source's mtime
    and size are the ones it recorded, so with the layer's default (0) every pod compiled
    kubetui's modules in memory at each start (CPU per pod start, and the DNS pod's heap)."""
    layer = Layer()
    init = package_root / "__init__.py"
    layer.file("opt/kubetui/kubetui/__init__.py", init.read_bytes(), mtime=init.stat().st_mtime)
    for pkg in APP_PACKAGES:
        for p in sorted((package_root / pkg).rglob("*")):
            if p.is_file() and (p.suffix == ".py" or (p.suffix == ".pyc" and "__pycache__" in p.parts)):
                layer.file(f"opt/kubetui/kubetui/{p.relative_to(package_root)}", p.read_bytes(), mtime=p.stat().st_mtime)
    cache = package_root / "__pycache__"
    for p in sorted(cache.glob("__init__.*.pyc")) if cache.is_dir() else []:
        layer.file(f"opt/kubetui/kubetui/__pycache__/{p.name}", p.read_bytes(), mtime=p.stat().st_mtime)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    layer.file("etc/os-release", OS_RELEASE.format(py=py).encode())
    return layer.bytes()


def _config(layers: list[bytes], arch: str, **config) -> bytes:
    config = {k: v for k, v in config.items() if v}
    return json.dumps({
        "architecture": arch, "os": "linux", "config": config, "created": "1970-01-01T00:00:00Z",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]},
        "history": [{"created_by": "kubetui image build (kubetui.runtime.imagebuild)"}]}, sort_keys=True).encode()


def image_configs(bb_layer: bytes, py_layer: bytes, app: bytes, arch: str) -> list[tuple[list[str], list[bytes], bytes]]:
    """(tags, layers, config) of every built-in image."""
    out = []
    layers = [bb_layer]
    out.append((["busybox:latest", "kubetui/busybox:latest"], layers,
                _config(layers, arch, Cmd=["sh"], Env=[f"PATH={BUSYBOX_PATH}"])))
    layers = [bb_layer, py_layer, app]
    for img in catalogue.catalogue():
        if img.busybox:
            continue
        env = [f"PATH={BUSYBOX_PATH}", "PYTHONPATH=/opt/kubetui", "PYTHONUNBUFFERED=1",
               "PYTHONDONTWRITEBYTECODE=1", "LANG=C.UTF-8", *(f"{k}={v}" for k, v in img.env.items())]
        argv = [("python3" if a == catalogue.PYTHON else a) for a in img.entrypoint]
        tags = [img.ref] + (["kubetui/hello:latest"] if img.ref == "kubetui/hello:1" else [])
        ports = {"8080/tcp": {}} if img.name in ("kubetui/hello", "kubetui/kv") else \
            ({"53/udp": {}, "53/tcp": {}} if img.name == "kubetui/dns" else None)
        out.append((tags, layers, _config(layers, arch, Entrypoint=argv, Cmd=list(img.cmd) or None,
                                          Env=env, ExposedPorts=ports,
                                          Labels={"org.opencontainers.image.description": img.description})))
    return out


def docker_save(path: Path, images: list[tuple[list[str], list[bytes], bytes]]) -> None:
    """A ``docker save`` archive holding every image, each layer once."""
    with tarfile.open(path, "w") as t:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        written: set[str] = set()
        manifest = []
        for tags, layers, config in images:
            names = []
            for l in layers:
                d = hashlib.sha256(l).hexdigest()
                names.append(f"blobs/sha256/{d}")
                if d not in written:
                    add(names[-1], l)
                    written.add(d)
            cname = f"blobs/sha256/{hashlib.sha256(config).hexdigest()}"
            if cname not in written:
                add(cname, config)
                written.add(cname)
            manifest.append({"Config": cname, "RepoTags": tags, "Layers": names})
        add("manifest.json", json.dumps(manifest).encode())


#: what ``python3 -OO -m kubetui.dns`` (kube-system/kube-dns's command) imports: ``runpy`` (``-m``),
#: ``sitecustomize`` (Debian's, at start), ``encodings.idna`` (``ssl`` encodes the API server's name)
OPTIMIZED_IMPORTS = ("runpy", "sitecustomize", "encodings.idna", "kubetui.dns.__main__")


def optimized_bytecode(package_root: Path, modules: tuple[str, ...] = OPTIMIZED_IMPORTS) -> None:
    """Write the opt-2 bytecode (``-OO``: no docstrings, no asserts) of every module these import,
    standard library and kubetui alike, beside the regular ``.pyc`` files the layers copy.

    The cluster DNS pod runs ``python3 -OO`` to hold no docstrings (issue 18: its node is the
    largest of a cluster). A module without opt-2 bytecode is compiled in memory at every start,
    and one compilation leaves the process ~0.7 MiB larger than all the docstrings save (8.4
    against 7.6 MiB, measured in the pod). Only the modules it imports get them (~55 files):
    opt-2 bytecode of the whole standard library would add 10 MB to every image sharing the
    Python layer. Importing them once writes exactly those files (a build stage, where the
    standard library is writable). ``-S``: the modules ``site`` imports are frozen into the
    interpreter, and a development install's import hook (``pip install -e``) would shadow
    ``PYTHONPATH``. A module missing here (``sitecustomize`` off Debian) is skipped."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(package_root.parent)
    code = "".join(f"try:\n    import {m}\nexcept ImportError:\n    pass\n" if m == "sitecustomize"
                   else f"import {m}\n" for m in modules)
    subprocess.run([sys.executable, "-S", "-OO", "-c", code], env=env, cwd=package_root.parent, check=True,
                   capture_output=True, timeout=120)


def build(store_root: Path, package_root: Path, busybox_binary: str | None = None) -> list:
    optimized_bytecode(package_root)
    binary = busybox_binary or bb.find()
    if not binary:
        raise SystemExit("no BusyBox on this node: the built-in images need Debian's busybox")
    bbl = busybox_layer(binary)
    in_busybox = {"/" + n for n in tarfile.open(fileobj=io.BytesIO(bbl)).getnames()}
    in_busybox |= {os.path.realpath(p) for p in in_busybox if os.path.exists(p)}
    py = python_layer(in_busybox)
    app = app_layer(package_root)
    images = image_configs(bbl, py, app, node_architecture())
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "builtin.tar"
        docker_save(archive, images)
        return ImageStore(store_root).import_archive(archive)


def main(argv: list[str] | None = None) -> int:
    import argparse
    p = argparse.ArgumentParser(prog="python3 -m kubetui.runtime.imagebuild")
    p.add_argument("store", help="the store to import the built-in images into")
    p.add_argument("--package-root", default=str(Path(__file__).resolve().parents[1]))
    a = p.parse_args(argv)
    for img in build(Path(a.store), Path(a.package_root)):
        print(f"{', '.join(img.refs)}  {img.id[:19]}  {img.size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
