"""Image archives built in a test with tarfile: ``docker save`` and OCI layouts (no Docker needed)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

# An entry of a layer: (name, kind, payload) with kind one of
# "file" (payload bytes), "dir", "symlink" (payload target), "hardlink" (payload target),
# "chr" (a device node), "fifo".
Entry = tuple


def layer_tar(entries: list[Entry], mode: int | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, *rest in entries:
            payload = rest[0] if rest else b""
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "file":
                info.size = len(payload)
                info.mode = mode or 0o644
                t.addfile(info, io.BytesIO(payload))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            t.addfile(info)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(layers: list[bytes], arch: str = "amd64", **config) -> bytes:
    return json.dumps({"architecture": arch, "os": "linux", "config": config,
                       "rootfs": {"type": "layers", "diff_ids": [sha(l) for l in layers]}}).encode()


def docker_save(path: Path, layers: list[bytes], tags: list[str], config: bytes | None = None,
                gzip_layers: bool = False) -> Path:
    """A ``docker save`` archive: manifest.json, <config digest>.json, <n>/layer.tar."""
    config = config or image_config(layers)
    with tarfile.open(path, "w") as t:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        names = []
        for i, layer in enumerate(layers):
            names.append(f"l{i}/layer.tar")
            add(names[-1], gzip.compress(layer) if gzip_layers else layer)
        cname = sha(config).split(":")[1] + ".json"
        add(cname, config)
        add("manifest.json", json.dumps([{"Config": cname, "RepoTags": tags, "Layers": names}]).encode())
    return path


def oci_layout(path: Path, layers: list[bytes], ref_name: str | None, config: bytes | None = None) -> Path:
    """An OCI image layout: oci-layout, index.json, blobs/sha256/* (gzip layers)."""
    config = config or image_config(layers)
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        d = sha(data)
        blobs[d] = data
        return d
    gz = [gzip.compress(l, mtime=0) for l in layers]
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config),
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(g),
                    "size": len(g)} for g in gz]}).encode()
    mdesc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(manifest),
             "size": len(manifest)}
    if ref_name:
        mdesc["annotations"] = {"io.containerd.image.name": ref_name,
                                "org.opencontainers.image.ref.name": ref_name.rsplit(":", 1)[-1]}
    index = json.dumps({"schemaVersion": 2, "manifests": [mdesc]}).encode()
    with tarfile.open(path, "w") as t:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add("index.json", index)
        for d, data in blobs.items():
            add("blobs/sha256/" + d.split(":")[1], data)
    return path
