"""The pure parts of the kubelet's volumes: AtomicWriter, projections, hostPath types, mounts, env wording."""

from __future__ import annotations

import base64
import os
import socket
import stat

import pytest

from kubetui.kubelet import podspec, projection
from kubetui.kubelet.atomicwriter import DATA_DIR, AtomicWriter, FileProjection, PayloadError, validate_path
from kubetui.kubelet.projection import ProjectionError
from kubetui.kubelet.volumes import check_host_path, orphaned_volume_dirs


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


# -- AtomicWriter ------------------------------------------------------------------

def test_atomic_writer_switches_versions_through_data_symlink(tmp_path):
    w = AtomicWriter(tmp_path / "vol")
    assert w.write({"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o400)})
    vol = tmp_path / "vol"
    assert (vol / "a").read_bytes() == b"1" and (vol / "dir" / "b").read_bytes() == b"2"
    assert os.readlink(vol / "a") == f"{DATA_DIR}/a"              # relative: resolves in the container too
    first = os.readlink(vol / DATA_DIR)
    assert stat.S_IMODE(os.stat(vol / "dir" / "b").st_mode) == 0o400
    # the same payload writes nothing
    assert not w.write({"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o400)})
    assert os.readlink(vol / DATA_DIR) == first
    # an update: new version dir, old one gone, removed key's link gone, new key's link there
    assert w.write({"a": FileProjection(b"one"), "c": FileProjection(b"3")})
    second = os.readlink(vol / DATA_DIR)
    assert second != first and not (vol / first).exists()
    assert (vol / "a").read_bytes() == b"one" and (vol / "c").read_bytes() == b"3"
    assert not os.path.lexists(vol / "dir")
    assert sorted(p for p in os.listdir(vol)) == sorted([DATA_DIR, second, "a", "c"])
    assert w.current() == {"a": FileProjection(b"one"), "c": FileProjection(b"3")}


def test_atomic_writer_reader_holding_old_file_keeps_reading_it(tmp_path):
    w = AtomicWriter(tmp_path)
    w.write({"k": FileProjection(b"old")})
    with open(tmp_path / "k", "rb") as f:
        w.write({"k": FileProjection(b"new")})
        assert f.read() == b"old"          # an open file is never rewritten in place
    assert (tmp_path / "k").read_bytes() == b"new"


@pytest.mark.parametrize("path,ok", [("a", True), ("a/b/c", True), ("..a", False), ("../x", False),
                                     ("a/../../x", False), ("/etc/passwd", False), ("", False)])
def test_validate_path(path, ok):
    if ok:
        validate_path(path)
    else:
        with pytest.raises(PayloadError):
            validate_path(path)


# -- projections ---------------------------------------------------------------------

CM = {"metadata": {"name": "app"}, "data": {"a": "1", "b": "2"}, "binaryData": {"bin": b64("\x00\x01")}}
SECRET = {"metadata": {"name": "db"}, "data": {"password": b64("s3cret")}}


@pytest.mark.parametrize("kind,obj,source,mode,want", [
    ("ConfigMap", CM, {"name": "app"}, 0o644,
     {"a": (b"1", 0o644), "b": (b"2", 0o644), "bin": (b"\x00\x01", 0o644)}),
    ("ConfigMap", CM, {"name": "app", "items": [{"key": "b", "path": "d/b.txt", "mode": 0o400}]}, 0o644,
     {"d/b.txt": (b"2", 0o400)}),
    ("ConfigMap", CM, {"name": "app", "items": [{"key": "a", "path": "a"}]}, 0o440, {"a": (b"1", 0o440)}),
    ("ConfigMap", None, {"name": "gone", "optional": True}, 0o644, {}),
    ("ConfigMap", CM, {"name": "app", "optional": True, "items": [{"key": "zz", "path": "z"}]}, 0o644, {}),
    ("Secret", SECRET, {"secretName": "db"}, 0o600, {"password": (b"s3cret", 0o600)}),
])
def test_key_payload(kind, obj, source, mode, want):
    got = projection.key_payload(kind, obj, source, mode)
    assert {k: (v.data, v.mode) for k, v in got.items()} == want


@pytest.mark.parametrize("kind,obj,source,message", [
    ("ConfigMap", None, {"name": "app"}, 'configmap "app" not found'),
    ("Secret", None, {"secretName": "db"}, 'secret "db" not found'),
    ("ConfigMap", CM, {"name": "app", "items": [{"key": "zz", "path": "z"}]},
     "configmap references non-existent config key: zz"),
    ("Secret", SECRET, {"secretName": "db", "items": [{"key": "user", "path": "u"}]},
     "references non-existent secret key: user"),
])
def test_key_payload_errors_are_worded_as_the_kubelet(kind, obj, source, message):
    with pytest.raises(ProjectionError) as e:
        projection.key_payload(kind, obj, source, 0o644)
    assert str(e.value) == message


POD = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1",
                    "labels": {"tier": "web", "app": "kv"}, "annotations": {"note": 'say "hi"'}},
       "spec": {"nodeName": "node-2", "containers": [
           {"name": "main", "resources": {"limits": {"cpu": "500m", "memory": "64Mi"},
                                          "requests": {"cpu": "250m"}}},
           {"name": "side"}]}}
ALLOC = {"cpu": 2.0, "memory": 2 * 2 ** 30}


@pytest.mark.parametrize("path,want", [
    ("metadata.labels", 'app="kv"\ntier="web"'),
    ("metadata.annotations", 'note="say \\"hi\\""'),
    ("metadata.name", "web-1"), ("metadata.namespace", "shop"), ("metadata.uid", "u-1"),
    ("metadata.labels['tier']", "web"), ("spec.nodeName", "node-2"), ("status.podIP", "10.244.1.7"),
])
def test_field_value(path, want):
    assert projection.field_value(POD, path, "10.244.1.7") == want


@pytest.mark.parametrize("container,resource,divisor,want", [
    (0, "limits.cpu", None, "1"), (0, "limits.cpu", "1m", "500"), (0, "requests.cpu", "1m", "250"),
    (0, "limits.memory", None, str(64 * 2 ** 20)), (0, "limits.memory", "1Mi", "64"),
    (1, "limits.cpu", None, "2"), (1, "limits.memory", "1Gi", "2"), (1, "requests.memory", None, "0"),
])
def test_resource_value(container, resource, divisor, want):
    c = POD["spec"]["containers"][container]
    assert projection.resource_value(c, resource, divisor, ALLOC) == want


def test_projected_volume_merges_configmap_secret_and_downward_api():
    vol = {"name": "all", "projected": {"defaultMode": 0o440, "sources": [
        {"configMap": {"name": "app", "items": [{"key": "a", "path": "config/a"}]}},
        {"secret": {"name": "db"}},
        {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                   {"path": "mem", "resourceFieldRef": {"containerName": "main",
                                                                        "resource": "limits.memory",
                                                                        "divisor": "1Mi"}}]}}]}}
    assert projection.api_data_sources(vol) == [("ConfigMap", "app"), ("Secret", "db")]
    got = projection.volume_payload(vol, POD, {("ConfigMap", "app"): CM, ("Secret", "db"): SECRET}, "", ALLOC)
    assert {k: (v.data, v.mode) for k, v in got.items()} == {
        "config/a": (b"1", 0o440), "password": (b"s3cret", 0o440),
        "labels": (b'app="kv"\ntier="web"', 0o440), "mem": (b"64", 0o440)}
    with pytest.raises(ProjectionError, match='configmap "app" not found'):
        projection.volume_payload(vol, POD, {("ConfigMap", "app"): None, ("Secret", "db"): SECRET}, "", ALLOC)


# -- hostPath types ----------------------------------------------------------------------

def test_host_path_types(tmp_path):
    d, f = tmp_path / "d", tmp_path / "f"
    check_host_path(str(d), "DirectoryOrCreate")
    assert d.is_dir()
    check_host_path(str(f), "FileOrCreate")
    assert f.is_file() and f.read_bytes() == b""
    check_host_path(str(d), "Directory")
    check_host_path(str(f), "File")
    sock = tmp_path / "s.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    try:
        check_host_path(str(sock), "Socket")
    finally:
        s.close()
    for path, typ, msg in [(f, "Directory", "is not a directory"), (d, "File", "is not a file"),
                           (tmp_path / "nope", "Directory", "is not a directory"),
                           (f, "DirectoryOrCreate", "is not a directory"), (d, "Socket", "is not a socket file"),
                           (d, "CharDevice", "is not a character device"),
                           (d, "BlockDevice", "is not a block device")]:
        with pytest.raises(ProjectionError, match=f"hostPath type check failed: {path} {msg}"):
            check_host_path(str(path), typ)
    check_host_path("/dev/null", "CharDevice")


# -- mounts: subPath, subPathExpr, readOnly ---------------------------------------------------

def test_mounts_subpath_and_read_only(tmp_path):
    vol = tmp_path / "cfg"
    AtomicWriter(vol).write({"app.conf": FileProjection(b"x")})
    data = tmp_path / "data"
    data.mkdir()
    c = {"name": "main", "volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/app"},
        {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
        {"name": "data", "mountPath": "/data", "subPathExpr": "$(POD_NAME)", "readOnly": True}]}
    got = podspec.mounts(c, {"cfg": str(vol), "data": str(data)}, {"POD_NAME": "web-1"}, {"cfg"})
    assert [(m.container_path, m.readonly) for m in got] == [("/etc/app", True), ("/etc/app.conf", True),
                                                             ("/data", True)]
    # a key's symlink is resolved once: the file of this version, as upstream binds it
    assert got[1].host_path == os.path.realpath(vol / "app.conf") and DATA_DIR not in got[1].host_path
    assert got[2].host_path == str(data / "web-1") and (data / "web-1").is_dir()
    with pytest.raises(podspec.SpecError, match='cannot find volume "nope" to mount into container "main"'):
        podspec.mounts({"name": "main", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, {})
    (data / "escape").symlink_to("/etc")
    with pytest.raises(podspec.SpecError, match="not within volume path"):
        podspec.mounts({"name": "main", "volumeMounts": [{"name": "d", "mountPath": "/x", "subPath": "escape"}]},
                       {"d": str(data)})


# -- env: envFrom, key refs, optional, the kubelet's wording -----------------------------------

class FakeObjects:
    def __init__(self, objs):
        self.objs = objs

    async def get(self, kind, ns, name):
        return self.objs.get((kind, name))


ENV_POD = {"metadata": {"name": "p", "namespace": "default", "labels": {"app": "x"}},
           "spec": {"containers": []}}


async def env_of(container, objs):
    return await podspec.container_env(FakeObjects(objs), ENV_POD, container, "10.0.0.5", "172.18.0.2",
                                       ALLOC, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"})


async def test_env_from_and_key_refs():
    objs = {("ConfigMap", "app"): {"data": {"MODE": "fast", "bad key": "skipped", "LEVEL": "3"}},
            ("Secret", "db"): {"data": {"PASSWORD": b64("pw")}}}
    env = await env_of({"name": "c", "envFrom": [{"configMapRef": {"name": "app"}},
                                                 {"secretRef": {"name": "db"}, "prefix": "DB_"},
                                                 {"configMapRef": {"name": "gone", "optional": True}}],
                        "env": [{"name": "LEVEL", "value": "override-$(MODE)"},
                                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "PASSWORD"}}},
                                {"name": "MISSING", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "no",
                                                                                      "optional": True}}},
                                {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]},
                       objs)
    assert env == {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "MODE": "fast", "LEVEL": "override-fast",
                   "DB_PASSWORD": "pw", "PW": "pw", "IP": "10.0.0.5", "CPU": "2"}


@pytest.mark.parametrize("entry,message", [
    ({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k"}}}]},
     'configmap "x" not found'),
    ({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "k"}}}]},
     "couldn't find key k in ConfigMap default/app"),
    ({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k"}}}]}, 'secret "x" not found'),
    ({"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}}]},
     "couldn't find key k in Secret default/db"),
    ({"envFrom": [{"configMapRef": {"name": "x"}}]}, 'configmap "x" not found'),
    ({"envFrom": [{"secretRef": {"name": "x"}}]}, 'secret "x" not found'),
])
async def test_env_errors_are_worded_as_the_kubelet(entry, message):
    objs = {("ConfigMap", "app"): {"data": {}}, ("Secret", "db"): {"data": {}}}
    with pytest.raises(podspec.SpecError) as e:
        await env_of({"name": "c", **entry}, objs)
    assert str(e.value) == message


# -- node-local volume garbage collection -------------------------------------------------------

def test_orphaned_volume_dirs(tmp_path):
    for name in ("pvc-live", "pvc-gone", "pvc-used", "pvc-retained"):
        (tmp_path / name).mkdir()
    (tmp_path / "a-file.txt").write_text("not a volume")
    got = orphaned_volume_dirs(tmp_path, {"pvc-live", "pvc-retained"}, {str(tmp_path / "pvc-used" / "sub")})
    assert got == [tmp_path / "pvc-gone"]
