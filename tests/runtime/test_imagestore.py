"""The node's image store: import, resolve, remove, and safe unpacking (archives built here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubetui.runtime import imagestore
from kubetui.runtime.imagestore import ImageStore, ImageStoreError, is_whiteout, normalize
from tests.runtime.imagearchives import docker_save, image_config, layer_tar, oci_layout, sha

BASE = layer_tar([("etc", "dir"), ("etc/os-release", "file", b"ID=testos\n"),
                  ("bin", "dir"), ("bin/tool", "file", b"#!/bin/sh\necho tool\n"),
                  ("bin/alias", "symlink", "/bin/tool"), ("bin/hard", "hardlink", "bin/tool"),
                  ("var/cache", "dir"), ("var/cache/a", "file", b"a"), ("opt/keep", "file", b"k")])
TOP = layer_tar([("etc/.wh.os-release", "file"), ("var/cache/.wh..wh..opq", "file"),
                 ("var/cache/b", "file", b"b"), ("app", "file", b"app")])


@pytest.mark.parametrize("ref,want", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ("library/nginx", "docker.io/library/nginx:latest"),
    ("docker.io/nginx", "docker.io/library/nginx:latest"),
    ("index.docker.io/library/nginx:1", "docker.io/library/nginx:1"),
    ("kubetui/hello:1", "docker.io/kubetui/hello:1"),
    ("registry.k8s.io/busybox:1.27.2", "registry.k8s.io/busybox:1.27.2"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("localhost/app:v1", "localhost/app:v1"),
])
def test_normalize_like_docker(ref, want):
    assert normalize(ref) == want


@pytest.mark.parametrize("ref", ["", "Nginx", "nginx:", "a b", "nginx@sha256:12"])
def test_normalize_refuses_bad_references(ref):
    with pytest.raises(ImageStoreError, match="invalid reference format"):
        normalize(ref)


def test_import_docker_save_layers_whiteouts_and_refs(tmp_path):
    store = ImageStore(tmp_path / "store")
    arc = docker_save(tmp_path / "img.tar", [BASE, TOP], ["example/app:1", "app"],
                      config=image_config([BASE, TOP], Entrypoint=["/app"], Env=["A=1"]))
    [img] = store.import_archive(arc)
    assert img.refs == ["docker.io/example/app:1", "docker.io/library/app:latest"]
    assert img.layers == [sha(BASE), sha(TOP)]
    assert img.run_config["Entrypoint"] == ["/app"]
    base, top = (Path(d) for d in img.layer_dirs)
    assert (base / "etc/os-release").read_text() == "ID=testos\n"
    assert os.readlink(base / "bin/alias") == "/bin/tool"            # kept as written, never followed
    assert os.stat(base / "bin/hard").st_ino == os.stat(base / "bin/tool").st_ino
    assert is_whiteout(top / "etc/os-release")                       # .wh.os-release -> char 0/0
    assert os.getxattr(top / "var/cache", "trusted.overlay.opaque") == b"y"
    assert not (top / "var/cache/.wh..wh..opq").exists()
    assert img.size == 10 + 20 + 1 + 1 + 1 + 3          # regular files' bytes, each layer once
    assert store.resolve("app").id == img.id == store.resolve("docker.io/example/app:1").id
    assert store.resolve(img.id).id == img.id and store.resolve(img.id[7:19]).id == img.id
    assert store.resolve("app:2") is None
    assert store.disk_usage()["layers"] == 2


def test_layers_are_unpacked_once_and_shared(tmp_path):
    store = ImageStore(tmp_path / "store")
    a = store.import_archive(docker_save(tmp_path / "a.tar", [BASE], ["a"]))[0]
    b = store.import_archive(docker_save(tmp_path / "b.tar", [BASE, TOP], ["b"]))[0]
    assert a.layer_dirs[0] == b.layer_dirs[0]
    assert len(list((tmp_path / "store/blobs/sha256").glob("*.json"))) == 2
    # removing a keeps the shared layer (b uses it); removing b deletes both layers
    assert store.remove("a")["deleted"] == [a.id]
    assert Path(b.layer_dirs[0]).is_dir()
    out = store.remove("b")
    assert sorted(out["deleted"]) == sorted([b.id, *b.layers])
    assert store.list() == [] and not Path(b.layer_dirs[0]).exists()


def test_import_oci_layout_gzip_layers(tmp_path):
    store = ImageStore(tmp_path / "store")
    [img] = store.import_archive(oci_layout(tmp_path / "oci.tar", [BASE], "docker.io/library/web:2"))
    assert img.refs == ["docker.io/library/web:2"]
    assert img.repo_digests and img.repo_digests[0].startswith("docker.io/library/web@sha256:")
    assert store.resolve("web:2").id == img.id
    assert store.resolve(img.repo_digests[0]).id == img.id


def test_untagged_oci_image_takes_the_given_tag(tmp_path):
    store = ImageStore(tmp_path / "store")
    [img] = store.import_archive(oci_layout(tmp_path / "oci.tar", [BASE], None), tags=["mine:1"])
    assert img.refs == ["docker.io/library/mine:1"]


def test_remove_refused_while_a_container_uses_it(tmp_path):
    store = ImageStore(tmp_path / "store")
    [img] = store.import_archive(docker_save(tmp_path / "a.tar", [BASE], ["a"]))
    (store.containers_dir() / "c0ffee").mkdir(parents=True)
    (store.containers_dir() / "c0ffee/image").write_text(img.id)
    with pytest.raises(imagestore.ImageInUse, match="container c0ffee is using its referenced image"):
        store.remove("a")
    assert store.resolve("a") is not None


def test_builtin_base_store_is_seen_and_not_removable(tmp_path):
    base = ImageStore(tmp_path / "builtin")
    base.import_archive(docker_save(tmp_path / "b.tar", [BASE], ["kubetui/hello:1"]))
    store = ImageStore(tmp_path / "node", base=ImageStore(tmp_path / "builtin", readonly=True))
    img = store.resolve("kubetui/hello:1")
    assert img is not None and img.builtin
    with pytest.raises(ImageStoreError, match="built into the node image"):
        store.remove("kubetui/hello:1")
    # a loaded image of the same name wins over the built-in one
    store.import_archive(docker_save(tmp_path / "n.tar", [TOP], ["kubetui/hello:1"]))
    assert not store.resolve("kubetui/hello:1").builtin


def _nothing_left(store_root: Path) -> None:
    blobs = store_root / "blobs/sha256"
    assert not blobs.exists() or not any(blobs.iterdir()), list(blobs.iterdir())
    assert not (store_root / "tmp").exists() or not any((store_root / "tmp").iterdir())
    assert ImageStore(store_root).list() == []


@pytest.mark.parametrize("entries,message", [
    ([("../escape", "file", b"x")], 'leaves the layer\'s directory'),
    ([("a/../../escape", "file", b"x")], 'leaves the layer\'s directory'),
    ([("/etc/passwd", "file", b"x")], "is an absolute path"),
    ([("link", "symlink", "/"), ("link/etc/x", "file", b"x")], 'goes through the symlink "link"'),
    ([("up", "symlink", ".."), ("up/escape", "file", b"x")], 'goes through the symlink "up"'),
    ([("h", "hardlink", "../../etc/shadow")], "leaves the layer's directory"),
    ([("h", "hardlink", "/etc/shadow")], "is an absolute path"),
    ([("h", "hardlink", "nothere")], "target not in this layer"),
    ([("x/.wh...", "file")], "names no file"),        # would whiteout the layer's own root
    ([(".wh..", "file")], "names no file"),
])
def test_escaping_layers_are_refused_and_leave_nothing(tmp_path, entries, message):
    store = ImageStore(tmp_path / "store")
    good = layer_tar([("ok", "file", b"ok")])
    bad = layer_tar([("first", "file", b"1"), *entries])
    with pytest.raises(ImageStoreError, match=message):
        store.import_archive(docker_save(tmp_path / "bad.tar", [good, bad], ["bad"]))
    _nothing_left(tmp_path / "store")
    assert not (tmp_path / "escape").exists() and not (tmp_path / "store/escape").exists()


def test_absolute_symlink_is_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    store = ImageStore(tmp_path / "store")
    layer = layer_tar([("d", "symlink", str(outside)), ("d/pwned", "file", b"x")])
    with pytest.raises(ImageStoreError, match="goes through the symlink"):
        store.import_archive(docker_save(tmp_path / "bad.tar", [layer], ["bad"]))
    assert list(outside.iterdir()) == []


def test_device_nodes_are_skipped_fifos_kept(tmp_path):
    store = ImageStore(tmp_path / "store")
    layer = layer_tar([("dev", "dir"), ("dev/null", "chr"), ("p", "fifo"), ("f", "file", b"f")])
    [img] = store.import_archive(docker_save(tmp_path / "d.tar", [layer], ["d"]))
    d = Path(img.layer_dirs[0])
    assert (d / "dev").is_dir() and not os.path.lexists(d / "dev/null")
    assert (d / "p").is_fifo() and (d / "f").read_bytes() == b"f"


def test_truncated_archive(tmp_path):
    store = ImageStore(tmp_path / "store")
    arc = docker_save(tmp_path / "img.tar", [BASE, TOP], ["t"])
    data = arc.read_bytes()
    arc.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageStoreError, match="truncated or corrupt|missing from the archive"):
        store.import_archive(arc)
    _nothing_left(tmp_path / "store")


def test_truncated_gzip_layer(tmp_path):
    store = ImageStore(tmp_path / "store")
    big = layer_tar([("f", "file", os.urandom(200_000))])
    arc = docker_save(tmp_path / "img.tar", [big], ["t"], gzip_layers=True)
    # cut the layer itself short inside an otherwise valid outer tar
    import tarfile, io
    with tarfile.open(arc) as t:
        members = {m.name: t.extractfile(m).read() for m in t.getmembers()}
    members["l0/layer.tar"] = members["l0/layer.tar"][:5000]
    with tarfile.open(arc, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    with pytest.raises(ImageStoreError, match="truncated or corrupt"):
        store.import_archive(arc)
    _nothing_left(tmp_path / "store")


def test_layer_whose_digest_differs_from_the_config(tmp_path):
    store = ImageStore(tmp_path / "store")
    arc = docker_save(tmp_path / "img.tar", [TOP], ["t"], config=image_config([BASE]))
    with pytest.raises(ImageStoreError, match="corrupt archive"):
        store.import_archive(arc)
    _nothing_left(tmp_path / "store")


@pytest.mark.parametrize("content,message", [
    (b"not a tar at all" * 100, "is not an image archive"),
    (None, "no manifest.json"),
])
def test_not_an_image_archive(tmp_path, content, message):
    p = tmp_path / "x.tar"
    if content is None:
        import tarfile
        with tarfile.open(p, "w") as t:
            t.add(__file__, arcname="README")
    else:
        p.write_bytes(content)
    with pytest.raises(ImageStoreError, match=message):
        ImageStore(tmp_path / "store").import_archive(p)


def _cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "kubetui.runtime.imagestore", *args],
                          capture_output=True, text=True, input=stdin)


def test_cli_import_ls_rm(tmp_path):
    root = ["--root", str(tmp_path / "store"), "--builtin-root", str(tmp_path / "none")]
    arc = docker_save(tmp_path / "img.tar", [BASE], ["cli/app:1"])
    r = _cli(*root, "import", str(arc))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["images"][0]["names"] == ["cli/app:1"]
    listing = json.loads(_cli(*root, "ls", "--json").stdout)
    assert [i["names"] for i in listing["images"]] == [["cli/app:1"]]
    assert listing["usage"]["layers"] == 1
    r = _cli(*root, "rm", "cli/app:1")
    assert r.returncode == 0 and json.loads(r.stdout)["untagged"] == ["docker.io/cli/app:1"]
    r = _cli(*root, "rm", "cli/app:1")
    assert r.returncode == 1 and r.stderr.strip() == "error: No such image: cli/app:1"
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"garbage")
    r = _cli(*root, "import", str(bad))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")


def test_a_store_sees_what_another_process_loaded_or_removed(tmp_path):
    """The kubelet's store keeps what it read in memory (a burst of pod starts looks images up
    hundreds of times); `kubetui image load` writes the same directory from another process, and
    the kubelet must see that image (and its removal) at once."""
    kubelet, loader = ImageStore(tmp_path / "store"), ImageStore(tmp_path / "store")
    assert kubelet.resolve("app:1") is None
    arc = docker_save(tmp_path / "img.tar", [BASE], ["app:1"], config=image_config([BASE], Cmd=["/bin/tool"]))
    loader.import_archive(arc)
    img = kubelet.resolve("app:1")
    assert img is not None and img.run_config["Cmd"] == ["/bin/tool"] and img.size > 0
    assert kubelet.resolve("app:1").refs == ["docker.io/library/app:1"]     # a second look, from memory
    loader.import_archive(docker_save(tmp_path / "img2.tar", [BASE], ["app:2"],
                                      config=image_config([BASE], Cmd=["/bin/tool"])))
    assert kubelet.resolve("app:2") is not None
    loader.remove("app:1")
    assert kubelet.resolve("app:1") is None and kubelet.resolve("app:2") is not None
    loader.remove("app:2")
    assert kubelet.list() == []


def test_an_image_looked_up_again_is_not_read_again(tmp_path, monkeypatch):
    store = ImageStore(tmp_path / "store")
    store.import_archive(docker_save(tmp_path / "img.tar", [BASE, TOP], ["app:1"],
                                     config=image_config([BASE, TOP], Cmd=["/app"])))
    store.resolve("app:1")
    reads = []
    real = Path.read_bytes, Path.read_text
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real[0](self))
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self) or real[1](self, *a, **k))
    for _ in range(10):
        assert store.resolve("app:1").size > 0
    assert reads == []
    store.resolve("app:1").refs.append("docker.io/library/mine:1")   # a caller's copy, not the store's
    store.list()[0].layer_dirs.clear()
    assert store.resolve("app:1").refs == ["docker.io/library/app:1"] and store.resolve("app:1").layer_dirs
