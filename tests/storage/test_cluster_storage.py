"""A whole (simulated) cluster: StorageClasses at bootstrap, --encrypt-secrets, ``kubetui store rotate-key``."""

from __future__ import annotations

import asyncio
import base64

import pytest

from kubetui.apiserver import encryption
from kubetui.cli import main
from kubetui.cluster import Cluster, ClusterSettings

PASSWORD_B64 = base64.b64encode(b"correct horse battery staple").decode()
KEY = "/registry/secrets/default/db"


def secret() -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
            "type": "kubernetes.io/basic-auth", "stringData": {"username": "admin"},
            "data": {"password": PASSWORD_B64}}


async def eventually(check, rounds: int = 200) -> None:
    """Poll a condition a bounded number of times (the cluster runs on the real clock)."""
    for _ in range(rounds):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def _up(state, **kw) -> Cluster:
    settings = ClusterSettings(name="t", provider="simulated", nodes=1, api_port=0, **kw)
    cluster = Cluster(settings, state)
    await cluster.up()
    return cluster


async def test_storage_classes_and_a_shared_claim_binding(tmp_path):
    cluster = await _up(tmp_path)
    try:
        client = cluster.control_plane.client
        classes = {sc["metadata"]["name"]: sc for sc in (await client.list("storageclasses"))["items"]}
        assert set(classes) == {"standard", "shared"}
        assert classes["standard"]["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
        await client.create("persistentvolumeclaims", {
            "metadata": {"name": "files"}, "spec": {"storageClassName": "shared", "accessModes": ["ReadWriteMany"],
                                                    "resources": {"requests": {"storage": "1Gi"}}}}, "default")

        async def bound() -> bool:
            c = await client.get("persistentvolumeclaims", "files", "default")
            return (c.get("status") or {}).get("phase") == "Bound"
        await eventually(bound)
        # Simulated nodes keep no data: the PV names the path every node would mount.
        c = await client.get("persistentvolumeclaims", "files", "default")
        pv = await client.get("persistentvolumes", c["spec"]["volumeName"])
        assert pv["spec"]["hostPath"]["path"] == f"/mnt/kubetui-shared/{pv['metadata']['name']}"
        # Secrets are stored base64 only, Kubernetes' default.
        await client.create("secrets", secret(), "default")
        assert cluster.control_plane.store.get(KEY).value["data"]["password"] == PASSWORD_B64
    finally:
        await cluster.stop()


@pytest.mark.parametrize("store", ["tinydb", pytest.param("etcd", marks=pytest.mark.etcd)])
def test_encrypt_secrets_and_rotate_key_offline(tmp_path, capsys, store):
    async def first_run() -> None:
        cluster = await _up(tmp_path, encrypt_secrets=True, store=store)
        ClusterSettings.load(tmp_path) or cluster.settings.save(tmp_path)
        try:
            cp = cluster.control_plane
            await cp.client.create("secrets", secret(), "default")
            got = await cp.client.get("secrets", "db", "default")
            assert got["data"]["password"] == PASSWORD_B64
            raw = cp.store.get(KEY).value
            assert raw[encryption.ENVELOPE_FIELD].startswith("k8s:enc:aesgcm:v1:key1:")
        finally:
            await cluster.stop()
    asyncio.run(first_run())
    config = tmp_path / encryption.CONFIG_FILE
    assert "aesgcm" in config.read_text()
    assert main(["store", "get", KEY, "--state-dir", str(tmp_path), "-o", "json"]) == 0
    out = capsys.readouterr().out
    assert "k8s:enc:aesgcm:v1:key1:" in out and PASSWORD_B64 not in out

    assert main(["store", "rotate-key", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "key2 encrypts from now on; re-encrypted 1 Secret(s)" in out and "key1" in out

    async def second_run() -> None:
        cluster = await _up(tmp_path, store=store)  # encrypt_secrets stays on (cluster.json)
        try:
            cp = cluster.control_plane
            assert cp.store.get(KEY).value[encryption.ENVELOPE_FIELD].startswith("k8s:enc:aesgcm:v1:key2:")
            assert (await cp.client.get("secrets", "db", "default"))["data"]["password"] == PASSWORD_B64
        finally:
            await cluster.stop()
    asyncio.run(second_run())


async def test_rotate_key_while_the_cluster_runs(tmp_path, capsys):
    cluster = await _up(tmp_path, encrypt_secrets=True)
    try:
        cp = cluster.control_plane
        await cp.client.create("secrets", secret(), "default")
        await cp.store.checkpoint()  # the CLI reads the store's files read-only
        rc = await asyncio.to_thread(main, ["store", "rotate-key", "--state-dir", str(tmp_path)])
        assert rc == 0
        assert cp.store.get(KEY).value[encryption.ENVELOPE_FIELD].startswith("k8s:enc:aesgcm:v1:key2:")
        assert (await cp.client.get("secrets", "db", "default"))["data"]["password"] == PASSWORD_B64
    finally:
        await cluster.stop()
    assert "every Secret is re-encrypted" in capsys.readouterr().out


def test_rotate_key_without_encryption_is_one_clear_line(tmp_path, capsys):
    assert main(["store", "rotate-key", "--state-dir", str(tmp_path)]) == 1
    assert "not encrypted at rest" in capsys.readouterr().err


async def test_real_kubectl_on_an_encrypting_cluster(tmp_path, kubectl_bin):
    cluster = await _up(tmp_path, encrypt_secrets=True)
    try:
        kubeconfig = cluster.control_plane.kubeconfig_path

        async def kubectl(*args: str) -> str:
            proc = await asyncio.create_subprocess_exec(
                kubectl_bin, f"--kubeconfig={kubeconfig}", *args,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            return out.decode()

        assert "standard (default)" in await kubectl("get", "storageclass")
        await kubectl("create", "secret", "generic", "api", "--from-literal=token=opensesame")
        token = await kubectl("get", "secret", "api", "-o", "jsonpath={.data.token}")
        assert base64.b64decode(token) == b"opensesame"
        raw = cluster.control_plane.store.get("/registry/secrets/default/api").value
        assert "data" not in raw and token not in str(raw)
    finally:
        await cluster.stop()
