"""A node's image store (upstream: containerd's content store + snapshotter, ``/var/lib/containerd``).

A real node keeps every image it pulled as content-addressed blobs and
unpacks each layer once into a snapshot directory that every container of
every image using that layer shares; a container's root filesystem is an
overlay of those directories with a writable directory of its own on top.
kubetui's store does the same on the node's kubelet volume
(``/var/lib/kubelet/images``: ext4 under Docker, removed with the node), laid
out as::

    blobs/sha256/<diff_id>/        one unpacked layer (named by the digest of its
                                   uncompressed tar: the config's rootfs.diff_ids)
    blobs/sha256/<diff_id>.json    {"size": bytes unpacked}
    configs/sha256/<id>.json       an image's config, byte for byte (id = its digest,
                                   what ``docker images`` calls IMAGE ID)
    refs.json                      {"docker.io/library/nginx:latest": "sha256:<id>", ...}
    containers/<id>/               each container's upper and work dirs (``runtime.rootfs``)

Images come in as ``docker save`` archives (``manifest.json``) or OCI image
layouts (``oci-layout``/``index.json``), through :meth:`ImageStore.import_archive`
or ``python3 -m kubetui.runtime.imagestore import FILE`` (what ``kubetui image
load`` runs inside each node). Every layer is unpacked into a temporary
directory, its digest checked against the config, and only then renamed into
place: an archive that is corrupt, truncated or that tries to write outside
its layer (``../``, an absolute name, a path through a symlink, a hardlink
out) leaves nothing behind. Whiteouts (``.wh.NAME``, ``.wh..wh..opq``) become
overlayfs whiteouts (a 0/0 character device, the ``trusted.overlay.opaque``
xattr) so the layers stack as they do under containerd; device nodes are
skipped (the runtime gives each container its own minimal ``/dev``).

The images built into kubetui's node image sit in a second, read-only store
baked into the image (``/var/lib/kubetui/images``, :data:`BUILTIN_ROOT`):
``ImageStore(root, base=ImageStore(BUILTIN_ROOT))`` sees both.

Standard library only: this module runs inside the node.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import gzip
import hashlib
import io
import json
import logging
import os
import platform
import posixpath
import re
import secrets
import shutil
import stat
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

log = logging.getLogger(__name__)

#: where a Docker node keeps the images loaded into it (on the kubelet's volume)
NODE_ROOT = "/var/lib/kubelet/images"
#: the images baked into the node image (read-only, on the node container's own filesystem)
BUILTIN_ROOT = "/var/lib/kubetui/images"

DEFAULT_REGISTRY = "docker.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class ImageStoreError(Exception):
    """An image could not be imported, found or removed; the message is one line for the user."""


class ImageInUse(ImageStoreError):
    pass


# -- references ---------------------------------------------------------------------------
def normalize(ref: str) -> str:
    """A reference as containerd names it (docker's normalisation).

    >>> normalize("nginx")
    'docker.io/library/nginx:latest'
    >>> normalize("kubetui/hello:1")
    'docker.io/kubetui/hello:1'
    >>> normalize("localhost:5000/app")
    'localhost:5000/app:latest'
    >>> normalize("nginx@sha256:" + "a" * 64)
    'docker.io/library/nginx@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
    """
    ref = ref.strip()
    if not ref or any(c.isspace() for c in ref):
        raise ImageStoreError(f"invalid reference format: {ref!r}")
    name, at, digest = ref.partition("@")
    if at and not _DIGEST.match(digest):
        raise ImageStoreError(f"invalid reference format: {ref!r}")
    first, slash, rest = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        domain, path = DEFAULT_REGISTRY, name
    else:
        domain, path = first, rest
    if domain in ("index.docker.io",):
        domain = DEFAULT_REGISTRY
    tag = ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not tag:
            raise ImageStoreError(f"invalid reference format: {ref!r}")
    if domain == DEFAULT_REGISTRY and "/" not in path:
        path = "library/" + path
    if path != path.lower():
        raise ImageStoreError(f"invalid reference format: repository name must be lowercase: {ref!r}")
    if not re.fullmatch(r"[a-z0-9]+(?:[._-]+[a-z0-9]+|__)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*", path) \
            or (tag and not re.fullmatch(r"[\w][\w.-]{0,127}", tag)):
        raise ImageStoreError(f"invalid reference format: {ref!r}")
    if at:
        return f"{domain}/{path}" + (f":{tag}" if tag else "") + f"@{digest}"
    return f"{domain}/{path}:{tag or 'latest'}"


def familiar(ref: str) -> str:
    """The short spelling people type: ``docker.io/library/nginx:latest`` -> ``nginx:latest``."""
    if ref.startswith("docker.io/library/"):
        return ref[len("docker.io/library/"):]
    if ref.startswith("docker.io/"):
        return ref[len("docker.io/"):]
    return ref


def node_architecture() -> str:
    """The node's CPU architecture in Go's (and an image config's) spelling."""
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x"}.get(m, m)


# -- images -------------------------------------------------------------------------------
@dataclass
class Image:
    """One image in the store: its config (OCI image config) and where its layers are."""

    id: str                                    # sha256:<digest of the config>
    refs: list[str]                            # normalised names pointing at it
    layers: list[str]                          # diff_ids, lowest first
    config: dict                               # the whole image config JSON
    size: int = 0                              # bytes unpacked, all layers
    layer_dirs: list[str] = field(default_factory=list)   # unpacked layers, lowest first
    builtin: bool = False                      # baked into the node image
    repo_digests: list[str] = field(default_factory=list)

    @property
    def repo_tags(self) -> list[str]:
        """The CRI ``Image.repo_tags`` (normalised names)."""
        return self.refs

    @property
    def pinned(self) -> bool:
        """The CRI ``Image.pinned``: built-in images are never garbage-collected."""
        return self.builtin

    @property
    def architecture(self) -> str:
        return self.config.get("architecture", "")

    @property
    def run_config(self) -> dict:
        """Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts (the config's ``config``)."""
        return self.config.get("config") or {}

    def to_json(self) -> dict:
        rc = self.run_config
        return {"id": self.id, "refs": self.refs, "names": [familiar(r) for r in self.refs],
                "repoDigests": self.repo_digests, "size": self.size, "layers": self.layers,
                "architecture": self.architecture, "os": self.config.get("os", ""),
                "builtin": self.builtin,
                "config": {k: rc.get(k) for k in ("Entrypoint", "Cmd", "Env", "WorkingDir", "User",
                                                  "ExposedPorts", "Labels") if rc.get(k) is not None}}


class _HashingReader(io.RawIOBase):
    """Reads through ``f``, hashing every byte read (and counting them)."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.f.read(len(b))
        n = len(data)
        b[:n] = data
        self.h.update(data)
        self.n += n
        return n

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class ImageStore:
    """The images one node holds. ``base`` is a read-only store beneath (the built-in images)."""

    def __init__(self, root: str | os.PathLike[str], base: "ImageStore | None" = None,
                 readonly: bool = False) -> None:
        self.root = Path(root)
        self.base = base
        self.readonly = readonly

    # -- paths -------------------------------------------------------------------------
    def layer_dir(self, diff_id: str) -> Path:
        return self.root / "blobs" / "sha256" / diff_id.split(":", 1)[-1]

    def _config_path(self, image_id: str) -> Path:
        return self.root / "configs" / "sha256" / (image_id.split(":", 1)[-1] + ".json")

    def containers_dir(self) -> Path:
        return self.root / "containers"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (the kubelet and ``kubetui image load`` may both write)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _refs(self) -> dict[str, str]:
        try:
            return json.loads((self.root / "refs.json").read_text())
        except FileNotFoundError:
            return {}
        except ValueError as e:
            raise ImageStoreError(f"image store {self.root}: refs.json is corrupt: {e}") from e

    def _write_refs(self, refs: dict[str, str]) -> None:
        tmp = self.root / f".refs.{secrets.token_hex(4)}"
        tmp.write_text(json.dumps(refs, indent=1, sort_keys=True))
        os.replace(tmp, self.root / "refs.json")

    def _repo_digests(self) -> dict[str, list[str]]:
        try:
            return json.loads((self.root / "repodigests.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _layer_size(self, diff_id: str) -> int:
        try:
            return int(json.loads((self.layer_dir(diff_id).with_suffix(".json")).read_text())["size"])
        except (OSError, ValueError, KeyError):
            return 0

    # -- reading -----------------------------------------------------------------------
    def _image(self, image_id: str, refs: list[str]) -> Image | None:
        try:
            config = json.loads(self._config_path(image_id).read_bytes())
        except (OSError, ValueError):
            return None
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        return Image(id=image_id, refs=sorted(refs), layers=diff_ids, config=config,
                     size=sum(self._layer_size(d) for d in diff_ids),
                     layer_dirs=[str(self.layer_dir(d)) for d in diff_ids],
                     builtin=self.readonly, repo_digests=self._repo_digests().get(image_id, []))

    def _own_images(self) -> list[Image]:
        by_id: dict[str, list[str]] = {}
        for ref, iid in self._refs().items():
            by_id.setdefault(iid, []).append(ref)
        out = []
        for iid, refs in sorted(by_id.items()):
            img = self._image(iid, refs)
            if img is not None:
                out.append(img)
        return out

    def list(self) -> list[Image]:
        """Every image, those loaded into this node first, then the built-in ones."""
        own = self._own_images()
        seen = {r for i in own for r in i.refs}
        if self.base is not None:
            for img in self.base.list():
                img.refs = [r for r in img.refs if r not in seen]
                if img.refs:
                    own.append(img)
        return own

    def resolve(self, ref: str) -> Image | None:
        """The image a reference names: a name (``nginx``, ``nginx:1.27``, ``docker.io/...``),
        ``name@sha256:...`` (a repo digest), or an image ID (``sha256:...`` or 12+ hex digits)."""
        ref = ref.strip()
        want_id = None
        if _DIGEST.match(ref):
            want_id = ref
        elif re.fullmatch(r"[0-9a-f]{12,64}", ref):
            want_id = ref
        if want_id:
            for img in self.list():
                if img.id == want_id or img.id.split(":", 1)[1].startswith(want_id):
                    return img
            return None
        try:
            norm = normalize(ref)
        except ImageStoreError:
            return None
        if "@" in norm:
            name, _, digest = norm.partition("@")
            for img in self.list():
                if any(rd.endswith("@" + digest) for rd in img.repo_digests) or img.id == digest:
                    return img
            return None
        for img in self.list():
            if norm in img.refs:
                return img
        return None

    def disk_usage(self) -> dict:
        """What the images use on this node: each layer counted once however many images share it."""
        layers: dict[str, int] = {}
        images = self.list()
        for img in images:
            if img.builtin:
                continue
            for d in img.layers:
                layers[d] = self._layer_size(d)
        return {"images": len(images), "layers": len(layers), "bytes": sum(layers.values()),
                "root": str(self.root)}

    # -- removing ----------------------------------------------------------------------
    def containers_using(self, image_id: str) -> list[str]:
        """The containers whose root filesystem is built on this image (``runtime.rootfs``)."""
        out = []
        d = self.containers_dir()
        if not d.is_dir():
            return out
        for c in d.iterdir():
            try:
                if (c / "image").read_text().strip() == image_id:
                    out.append(c.name)
            except OSError:
                continue
        return out

    def remove(self, ref_or_id: str) -> dict:
        """Untag a name (and delete the image when no name is left), or delete an image by ID.

        Refused while a container uses it, in Docker's words. Layers no remaining image uses
        are deleted. Returns ``{"untagged": [...], "deleted": [...]}``.
        """
        with self._locked():
            refs = self._refs()
            img = self.resolve(ref_or_id)
            if img is None:
                raise ImageStoreError(f"No such image: {ref_or_id}")
            if img.builtin:
                raise ImageStoreError(f"image {familiar(img.refs[0]) if img.refs else img.id} is built into "
                                      f"the node image and cannot be removed")
            by_id = ref_or_id.strip().startswith("sha256:") or bool(re.fullmatch(r"[0-9a-f]{12,64}", ref_or_id))
            untag = [r for r, i in refs.items() if i == img.id] if by_id else [normalize(ref_or_id)]
            remaining = [r for r, i in refs.items() if i == img.id and r not in untag]
            if not remaining:
                users = self.containers_using(img.id)
                if users:
                    raise ImageInUse(f'conflict: unable to remove repository reference "{ref_or_id}" '
                                     f"(must force) - container {users[0][:12]} is using its referenced "
                                     f"image {img.id.split(':', 1)[1][:12]}")
            for r in untag:
                refs.pop(r, None)
            self._write_refs(refs)
            deleted = []
            if not remaining:
                self._config_path(img.id).unlink(missing_ok=True)
                deleted.append(img.id)
                rd = self._repo_digests()
                if rd.pop(img.id, None) is not None:
                    (self.root / "repodigests.json").write_text(json.dumps(rd))
                deleted += self._remove_unused_layers()
            return {"untagged": untag, "deleted": deleted}

    def _remove_unused_layers(self) -> list[str]:
        used = {d.split(":", 1)[-1] for img in self._own_images() for d in img.layers}
        gone = []
        blobs = self.root / "blobs" / "sha256"
        if not blobs.is_dir():
            return gone
        for p in blobs.iterdir():
            if p.is_dir() and p.name not in used and _HEX.match(p.name):
                _rmtree(p)
                p.with_suffix(".json").unlink(missing_ok=True)
                gone.append("sha256:" + p.name)
        return gone

    # -- importing ---------------------------------------------------------------------
    def import_archive(self, path: str | os.PathLike[str], tags: list[str] | None = None) -> list[Image]:
        """Import every image in a ``docker save`` tar or an OCI image layout tar (either may be
        gzip-compressed). ``tags`` names an untagged image (an OCI layout without ref names)."""
        if self.readonly:
            raise ImageStoreError(f"image store {self.root} is read-only")
        try:
            outer = tarfile.open(path, "r:*")
        except FileNotFoundError:
            raise ImageStoreError(f"open {path}: no such file or directory") from None
        except (tarfile.TarError, EOFError, OSError, zlib_error()) as e:
            raise ImageStoreError(f"{path} is not an image archive (a docker save or OCI tar): {_one_line(e)}") from None
        with outer:
            try:
                members = {posixpath.normpath(m.name.lstrip("/")): m for m in outer.getmembers()}
            except (tarfile.TarError, EOFError, OSError, zlib_error()) as e:
                raise ImageStoreError(f"{path}: archive is truncated or corrupt: {e}") from None
            reader = _ArchiveReader(outer, members, str(path))
            if "manifest.json" in members:
                entries = reader.docker_entries()
            elif "index.json" in members:
                entries = reader.oci_entries(node_architecture())
            else:
                raise ImageStoreError(f"{path} is not an image archive: no manifest.json (docker save) "
                                      f"or index.json (OCI layout) in it")
            with self._locked():
                created: list[Path] = []
                try:
                    results = [self._import_one(reader, e, tags, created) for e in entries]
                except BaseException:
                    for d in created:           # nothing half-imported: new layers go again
                        if not any(d.name in (l.split(":", 1)[-1]) for i in self._own_images() for l in i.layers):
                            _rmtree(d)
                            d.with_suffix(".json").unlink(missing_ok=True)
                    raise
        return results

    def _import_one(self, reader: "_ArchiveReader", entry: dict, tags: list[str] | None,
                    created: list[Path]) -> Image:
        config_bytes = entry["config"]
        image_id = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        if entry.get("config_digest") and entry["config_digest"] != image_id:
            raise ImageStoreError(f"{reader.path}: config {entry['config_name']} does not match its digest "
                                  f"{entry['config_digest']} (corrupt archive)")
        try:
            config = json.loads(config_bytes)
            diff_ids = list(config["rootfs"]["diff_ids"])
        except (ValueError, KeyError, TypeError) as e:
            raise ImageStoreError(f"{reader.path}: image config is not valid: {e}") from None
        if len(diff_ids) != len(entry["layers"]):
            raise ImageStoreError(f"{reader.path}: the manifest lists {len(entry['layers'])} layers, "
                                  f"the config {len(diff_ids)}")
        for diff_id, (name, blob_digest) in zip(diff_ids, entry["layers"]):
            if not _DIGEST.match(diff_id or ""):
                raise ImageStoreError(f"{reader.path}: bad layer digest {diff_id!r} in the config")
            final = self.layer_dir(diff_id)
            if final.is_dir():
                continue                        # unpacked once, shared by every image using it
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.root / "tmp" / f"layer-{secrets.token_hex(6)}"
            tmp.mkdir(parents=True)
            try:
                got, size = reader.unpack_layer(name, blob_digest, tmp)
                if got != diff_id:
                    raise ImageStoreError(f"{reader.path}: layer {name} has digest {got}, the config says "
                                          f"{diff_id} (corrupt archive)")
                (final.with_suffix(".json")).write_text(json.dumps({"size": size}))
                os.rename(tmp, final)
                created.append(final)
            finally:
                if tmp.exists():
                    _rmtree(tmp)
        cpath = self._config_path(image_id)
        cpath.parent.mkdir(parents=True, exist_ok=True)
        if not cpath.exists():
            t = cpath.with_suffix(".tmp")
            t.write_bytes(config_bytes)
            os.replace(t, cpath)
        names = [normalize(t) for t in (entry["refs"] or tags or [])]
        refs = self._refs()
        for n in names:
            refs[n] = image_id
        self._write_refs(refs)
        if entry.get("repo_digests"):
            rd = self._repo_digests()
            rd[image_id] = sorted(set(rd.get(image_id, []) + entry["repo_digests"]))
            (self.root / "repodigests.json").write_text(json.dumps(rd))
        img = self._image(image_id, names)
        assert img is not None
        log.info("imported %s (%s, %d layers)", ", ".join(map(familiar, names)) or image_id,
                 image_id[:19], len(diff_ids))
        return img


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def zlib_error():
    import zlib
    return zlib.error


class _ArchiveReader:
    """The parts of one archive: its manifests, configs and layer tars."""

    def __init__(self, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: str) -> None:
        self.tar, self.members, self.path = tar, members, path

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        m = self.members.get(posixpath.normpath(name.lstrip("/")))
        if m is None or not m.isfile():
            raise ImageStoreError(f"{self.path}: {name} is missing from the archive")
        if m.size > limit:
            raise ImageStoreError(f"{self.path}: {name} is too large ({m.size} bytes)")
        try:
            return self.tar.extractfile(m).read()
        except (tarfile.TarError, EOFError, OSError, zlib_error()) as e:
            raise ImageStoreError(f"{self.path}: archive is truncated or corrupt ({name}: {e})") from None

    def json(self, name: str):
        try:
            return json.loads(self.read(name))
        except ValueError as e:
            raise ImageStoreError(f"{self.path}: {name} is not valid JSON: {e}") from None

    def docker_entries(self) -> list[dict]:
        """``docker save``'s manifest.json: Config, RepoTags, Layers (paths in the tar)."""
        manifest = self.json("manifest.json")
        if not isinstance(manifest, list) or not manifest:
            raise ImageStoreError(f"{self.path}: manifest.json lists no image")
        out = []
        for m in manifest:
            try:
                cname, layers = m["Config"], list(m["Layers"])
            except (KeyError, TypeError):
                raise ImageStoreError(f"{self.path}: manifest.json entry without Config/Layers") from None
            hexname = re.search(r"([0-9a-f]{64})(?:\.json)?$", cname)
            out.append({"config": self.read(cname), "config_name": cname,
                        "config_digest": "sha256:" + hexname.group(1) if hexname else None,
                        "refs": list(m.get("RepoTags") or []),
                        "layers": [(l, _blob_digest(l)) for l in layers], "repo_digests": []})
        return out

    def oci_entries(self, arch: str) -> list[dict]:
        """An OCI layout: index.json -> (image index ->) manifest -> config + layer blobs."""
        index = self.json("index.json")
        out = []
        for desc in index.get("manifests") or []:
            manifest, digest = self._manifest_for(desc, arch)
            ann = desc.get("annotations") or {}
            name = ann.get("io.containerd.image.name") or ""
            short = ann.get("org.opencontainers.image.ref.name") or ""
            refs = [name] if name else ([short] if short and not re.fullmatch(r"[\w][\w.-]*", short) else [])
            cdesc = manifest.get("config") or {}
            out.append({"config": self.blob(cdesc.get("digest", "")), "config_name": cdesc.get("digest"),
                        "config_digest": cdesc.get("digest"), "refs": refs,
                        "layers": [("blobs/" + l["digest"].replace(":", "/"), l["digest"])
                                   for l in manifest.get("layers") or []],
                        "repo_digests": [f"{normalize(r).rsplit(':', 1)[0]}@{digest}" for r in refs]})
        if not out:
            raise ImageStoreError(f"{self.path}: index.json lists no image")
        return out

    def blob(self, digest: str) -> bytes:
        if not _DIGEST.match(digest or ""):
            raise ImageStoreError(f"{self.path}: bad digest {digest!r}")
        data = self.read("blobs/" + digest.replace(":", "/"))
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise ImageStoreError(f"{self.path}: blob {digest} does not match its digest (corrupt archive)")
        return data

    def _manifest_for(self, desc: dict, arch: str) -> tuple[dict, str]:
        media = desc.get("mediaType", "")
        doc = json.loads(self.blob(desc.get("digest", "")))
        if "index" in media or "manifest.list" in media or doc.get("manifests"):
            subs = doc.get("manifests") or []
            pick = next((d for d in subs if (d.get("platform") or {}).get("architecture") == arch
                         and (d.get("platform") or {}).get("os", "linux") == "linux"), None)
            pick = pick or next((d for d in subs if self._has_blob(d.get("digest", ""))), None)
            if pick is None:
                raise ImageStoreError(f"{self.path}: the image index has no manifest in the archive")
            return self._manifest_for(pick, arch)
        return doc, desc.get("digest", "")

    def _has_blob(self, digest: str) -> bool:
        return ("blobs/" + digest.replace(":", "/")) in self.members

    def unpack_layer(self, name: str, blob_digest: str | None, dest: Path) -> tuple[str, int]:
        """Unpack one layer tar into ``dest``; returns (diff_id, bytes unpacked)."""
        m = self.members.get(posixpath.normpath(name.lstrip("/")))
        if m is None or not m.isfile():
            raise ImageStoreError(f"{self.path}: layer {name} is missing from the archive")
        raw = _HashingReader(self.tar.extractfile(m))
        buffered = io.BufferedReader(raw, 1 << 16)
        head = buffered.peek(4)[:4]
        if head[:2] == b"\x1f\x8b":
            stream: IO[bytes] = gzip.GzipFile(fileobj=buffered)
        elif head[:4] == b"\x28\xb5\x2f\xfd":
            raise ImageStoreError(f"{self.path}: layer {name} is zstd-compressed, which kubetui cannot unpack "
                                  f"(export it with gzip or uncompressed layers)")
        else:
            stream = buffered
        plain = _HashingReader(stream)
        try:
            size = unpack_layer(plain, dest, label=f"{self.path}: layer {name}")
            plain.drain()
            while buffered.read(1 << 20):
                pass
        except (tarfile.TarError, EOFError, zlib_error(), gzip.BadGzipFile) as e:
            raise ImageStoreError(f"{self.path}: layer {name} is truncated or corrupt: {e}") from None
        if blob_digest and "sha256:" + raw.h.hexdigest() != blob_digest:
            raise ImageStoreError(f"{self.path}: layer {name} does not match its digest {blob_digest} "
                                  f"(corrupt archive)")
        return "sha256:" + plain.h.hexdigest(), size


def _blob_digest(path: str) -> str | None:
    """Newer ``docker save`` names layers ``blobs/sha256/<digest>``: a digest to check."""
    m = re.fullmatch(r"blobs/sha256/([0-9a-f]{64})", posixpath.normpath(path))
    return "sha256:" + m.group(1) if m else None


# -- unpacking one layer safely -----------------------------------------------------------
def safe_member_path(name: str, label: str = "layer") -> str:
    """A tar member's name as a path relative to the layer directory, or ``ImageStoreError``.

    >>> safe_member_path("./usr/bin/env")
    'usr/bin/env'

    ``../etc/passwd``, ``a/../../x`` and ``/etc/passwd`` raise ``ImageStoreError``.
    """
    if name.startswith("/"):
        raise ImageStoreError(f'{label}: "{name}" is an absolute path')
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or "\0" in name:
        raise ImageStoreError(f'{label}: "{name}" leaves the layer\'s directory')
    return "" if norm == "." else norm


def _check_parents(root: Path, rel: str, label: str) -> None:
    """No component of ``rel``'s parent may be a symlink: extraction never follows one."""
    cur = root
    for part in rel.split("/")[:-1]:
        cur = cur / part
        if cur.is_symlink():
            raise ImageStoreError(f'{label}: "{rel}" goes through the symlink "{cur.relative_to(root)}"')


def _make_parents(root: Path, rel: str) -> None:
    cur = root
    for part in rel.split("/")[:-1]:
        cur = cur / part
        if not cur.exists():
            cur.mkdir(mode=0o755)


def _clear(p: Path) -> None:
    """A later entry replaces an earlier one of the same name (tar semantics)."""
    if p.is_symlink() or (p.exists() and not p.is_dir()):
        p.unlink()


def unpack_layer(stream: IO[bytes], dest: Path, label: str = "layer") -> int:
    """Unpack a layer tar read from ``stream`` into the empty directory ``dest``. Returns the
    bytes written. Never writes outside ``dest``; whiteouts become overlayfs whiteouts."""
    as_root = os.geteuid() == 0
    total = 0
    dirs: list[tuple[Path, tarfile.TarInfo]] = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for m in tar:
            rel = safe_member_path(m.name, label)
            if not rel:
                dirs.append((dest, m))
                continue
            _check_parents(dest, rel, label)
            _make_parents(dest, rel)
            target = dest / rel
            base = posixpath.basename(rel)
            parent = target.parent
            if base == OPAQUE_MARKER:
                # the directory hides everything below it in lower layers
                if not parent.exists():
                    parent.mkdir(mode=0o755)
                _set_opaque(parent, label)
                continue
            if base.startswith(WHITEOUT_PREFIX):
                name = base[len(WHITEOUT_PREFIX):]
                if name in ("", ".", ".."):
                    raise ImageStoreError(f'{label}: whiteout "{rel}" names no file')
                hidden = parent / name
                if hidden.is_dir() and not hidden.is_symlink():
                    _rmtree(hidden)
                else:
                    _clear(hidden)
                _mknod_whiteout(hidden, label)
                continue
            if m.isdir():
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()
                if not target.exists():
                    target.mkdir(mode=0o700)
                dirs.append((target, m))
                continue
            if target.is_dir() and not target.is_symlink():
                _rmtree(target)
            else:
                _clear(target)
            if m.isreg():
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                src = tar.extractfile(m)
                with os.fdopen(fd, "wb") as out:
                    left = m.size
                    while left > 0:
                        chunk = src.read(min(left, 1 << 20))
                        if not chunk:
                            raise ImageStoreError(f"{label}: truncated in {rel}")
                        out.write(chunk)
                        left -= len(chunk)
                total += m.size
            elif m.issym():
                # Kept as written, absolute targets too: they resolve inside the container's root
                # after pivot_root. Extraction never follows one (_check_parents).
                os.symlink(m.linkname, target)
            elif m.islnk():
                lrel = safe_member_path(m.linkname, label)
                _check_parents(dest, lrel, label)
                src_path = dest / lrel
                if not lrel:
                    raise ImageStoreError(f'{label}: hardlink "{rel}" has no target')
                if not (src_path.exists() or src_path.is_symlink()):
                    raise ImageStoreError(f'{label}: hardlink "{rel}" -> "{m.linkname}": target not in this layer')
                os.link(src_path, target, follow_symlinks=False)
                continue                                   # shares the target's mode and owner
            elif m.isfifo():
                os.mkfifo(target, 0o600)
            elif m.ischr() or m.isblk():
                log.warning("%s: skipping device node %s (containers get their own /dev)", label, rel)
                continue
            else:
                log.warning("%s: skipping %s of unknown type %r", label, rel, m.type)
                continue
            _apply_meta(target, m, as_root)
        # directories last: a read-only directory's mode must not stop its children being written
        for d, m in reversed(dirs):
            _apply_meta(d, m, as_root)
    return total


def _apply_meta(p: Path, m: tarfile.TarInfo, as_root: bool) -> None:
    if as_root:
        os.lchown(p, m.uid, m.gid)
    if not m.issym():
        os.chmod(p, m.mode & 0o7777)
    try:
        os.utime(p, (m.mtime, m.mtime), follow_symlinks=False)
    except (OSError, OverflowError, ValueError):
        pass
    for k, v in (m.pax_headers or {}).items():
        if k == "SCHILY.xattr.security.capability" and as_root:   # e.g. ping's cap_net_raw
            try:
                os.setxattr(p, "security.capability", v.encode("latin-1"), follow_symlinks=False)
            except OSError:
                pass


def _mknod_whiteout(p: Path, label: str) -> None:
    """overlayfs's whiteout: a character device 0/0 hides the name in the layers below."""
    try:
        os.mknod(p, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
    except PermissionError as e:
        raise ImageStoreError(f"{label}: cannot make the whiteout for {p.name} (needs CAP_MKNOD): {e}") from None


def _set_opaque(d: Path, label: str) -> None:
    try:
        os.setxattr(d, "trusted.overlay.opaque", b"y")
    except OSError as e:
        raise ImageStoreError(f"{label}: cannot mark {d.name} opaque (needs CAP_SYS_ADMIN): {e}") from None


def _rmtree(p: Path) -> None:
    shutil.rmtree(p, ignore_errors=True)


def is_whiteout(p: str | os.PathLike[str]) -> bool:
    st = os.lstat(p)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def node_store(root: str = NODE_ROOT, builtin: str = BUILTIN_ROOT) -> ImageStore:
    """This node's store: what was loaded into it over what the node image brings."""
    base = ImageStore(builtin, readonly=True) if Path(builtin).is_dir() else None
    return ImageStore(root, base=base)


# -- the command line the host runs inside a node (kubetui image load|ls) ------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m kubetui.runtime.imagestore",
                                description="the node's image store (what `kubetui image` runs in a node)")
    p.add_argument("--root", default=NODE_ROOT)
    p.add_argument("--builtin-root", default=BUILTIN_ROOT)
    sub = p.add_subparsers(dest="cmd", required=True)
    imp = sub.add_parser("import", help="import a docker save or OCI archive (- reads stdin)")
    imp.add_argument("file")
    imp.add_argument("--tag", action="append", default=[], help="name an untagged image")
    ls = sub.add_parser("ls", help="list images")
    ls.add_argument("--json", action="store_true")
    rm = sub.add_parser("rm", help="untag or remove an image")
    rm.add_argument("ref")
    sub.add_parser("df", help="disk usage")
    a = p.parse_args(argv)
    store = node_store(a.root, a.builtin_root)
    try:
        if a.cmd == "import":
            path = a.file
            spool = None
            if path == "-":
                (store.root / "tmp").mkdir(parents=True, exist_ok=True)
                spool = store.root / "tmp" / f"stdin-{secrets.token_hex(6)}.tar"
                with open(spool, "wb") as f:
                    shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
                path = str(spool)
            try:
                images = store.import_archive(path, tags=a.tag or None)
            finally:
                if spool:
                    spool.unlink(missing_ok=True)
            out = {"images": [i.to_json() for i in images]}
        elif a.cmd == "ls":
            images = store.list()
            if not a.json:
                for i in images:
                    for r in i.refs:
                        print(f"{familiar(r):50} {i.id.split(':', 1)[1][:12]}  {i.size / 1e6:8.1f}MB"
                              f"{'  (built in)' if i.builtin else ''}")
                return 0
            out = {"images": [i.to_json() for i in images], "usage": store.disk_usage()}
        elif a.cmd == "rm":
            out = store.remove(a.ref)
        else:
            out = store.disk_usage()
    except ImageStoreError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
