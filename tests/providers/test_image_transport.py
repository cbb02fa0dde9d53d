"""``kubetui image load``'s transport against a fake node transport and engine (no Docker needed)."""

from pathlib import Path

import pytest

from kubetui.cmd.images import human_size, image_rows
from kubetui.providers.docker.images import (
    IMAGESTORE, EngineError, EngineImage, _tar_of_one, load_archive, load_images, split_tag,
)


class Nodes:
    def __init__(self, names, fail=()):
        self.names, self.fail = names, set(fail)
        self.files, self.ran = {}, []

    def nodes(self):
        return list(self.names)

    def put_file(self, node, path, source):
        self.files[(node, path)] = Path(source).read_bytes()

    def run(self, node, argv):
        self.ran.append((node, argv))
        if argv[:2] == ["sh", "-c"] and " ".join(IMAGESTORE) + " import" in argv[2]:
            if node in self.fail:
                return 1, f"error: {argv[-1]} is not an image archive (a docker save or OCI tar)\n"
            assert self.files.pop((node, argv[-1])) == b"ARCHIVE"      # and the script removes it
            assert 'rm -f "$1"' in argv[2]
            return 0, "imported\n"
        return 0, ""


class Engine:
    def __init__(self, have):
        self.have = have

    def inspect(self, ref):
        return EngineImage("sha256:x", (ref,), 7) if ref in self.have else None

    def pull(self, ref, auth=None):
        raise EngineError("offline")

    def save(self, refs):
        yield b"ARCH"
        yield b"IVE"


def test_load_saves_once_and_imports_into_every_node():
    t = Nodes(["n1", "n2", "n3"])
    r = load_images(Engine({"web:1"}), t, ["web:1"])
    assert r.ok and [n.node for n in r.nodes] == ["n1", "n2", "n3"] and r.bytes == 7
    imports = [argv for _n, argv in t.ran if "import" in argv]
    assert len(imports) == 3 and all(a[-1].startswith("/var/lib/kubelet/image-import-") for a in imports)
    assert t.files == {}


def test_a_node_that_refuses_the_archive_is_reported_not_hidden(tmp_path):
    f = tmp_path / "a.tar"
    f.write_bytes(b"ARCHIVE")
    r = load_archive(Nodes(["n1", "n2"], fail=["n2"]), f)
    assert not r.ok
    # the error names the user's file, not the node's temporary copy of it
    assert {n.node: n.error for n in r.nodes} == {"n1": "", "n2": f"error: {f} is not an image archive (a docker save "
                                                              "or OCI tar)"}


def test_an_image_missing_from_the_engine_says_what_to_do():
    with pytest.raises(EngineError, match="docker pull nginx:1.27"):
        load_images(Engine(set()), Nodes(["n1"]), ["nginx:1.27"])


def test_tar_stream_of_one_file_is_a_valid_tar(tmp_path):
    import io
    import tarfile
    src = tmp_path / "x"
    src.write_bytes(b"z" * 1000)
    data = b"".join(_tar_of_one("x.tar", src))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["x.tar"] and tar.extractfile("x.tar").read() == b"z" * 1000


@pytest.mark.parametrize("ref,want", [("nginx", ("nginx", "latest")), ("host:5000/app:1", ("host:5000/app", "1")),
                                      ("host:5000/app", ("host:5000/app", "latest"))])
def test_split_tag(ref, want):
    assert split_tag(ref) == want


def test_ls_rows_and_sizes():
    rows = image_rows("n1", [{"id": "sha256:abc", "refs": ["docker.io/library/nginx:1.22"], "names": ["nginx:1.22"],
                              "size": 52_428_800}])
    assert [r["image"] for r in rows] == ["nginx:1.22"]
    assert human_size(52_428_800) == "52.4MB" and human_size(900) == "900B"
