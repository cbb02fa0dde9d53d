"""Encryption at rest: what lands in the store's files with and without an EncryptionConfiguration."""

from __future__ import annotations

import base64
import stat

import pytest

from kubetui.api import errors
from kubetui.api.resources import resource_for
from kubetui.apiserver import encryption
from kubetui.apiserver.encryption import EncryptingStore
from kubetui.apiserver.registry import Registry
from kubetui.apiserver.inprocess import InProcessClient
from kubetui.clock import FakeClock
from kubetui.store import Store

SECRETS = resource_for("secrets")
PASSWORD = "s3cr3t-hunter2-passw0rd"
PASSWORD_B64 = base64.b64encode(PASSWORD.encode()).decode()


def secret(name: str = "db", **extra) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"},
            "type": "Opaque", "data": {"password": PASSWORD_B64}, **extra}


def raw_store_bytes(state) -> bytes:
    """Every byte kubetui's etcd keeps on disk: checkpoint and log segments."""
    return b"".join(p.read_bytes() for p in sorted((state / "store").iterdir()) if p.is_file())


async def open_registry(state, clock, encrypted: bool):
    store = Store(state / "store", clock=clock)
    await store.open()
    inner = store
    if encrypted:
        encryption.ensure_config(state / encryption.CONFIG_FILE)
        inner = EncryptingStore(store, state / encryption.CONFIG_FILE)
    registry = Registry(inner, clock=clock)
    await registry.bootstrap()
    return store, registry


@pytest.fixture
def clock():
    return FakeClock()


async def test_without_encryption_the_store_holds_the_base64_value(tmp_path, clock):
    """Kubernetes' default behaviour: Secrets are stored base64-encoded only, not encrypted.

    Anyone who can read etcd's files (here: <state>/store) can decode every Secret.
    """
    store, registry = await open_registry(tmp_path, clock, encrypted=False)
    await registry.create(SECRETS, "default", secret())
    await store.checkpoint()
    await store.close()
    raw = raw_store_bytes(tmp_path)
    assert PASSWORD_B64.encode() in raw
    assert base64.b64decode(PASSWORD_B64).decode() == PASSWORD


async def test_with_encryption_no_secret_value_reaches_the_files(tmp_path, clock):
    store, registry = await open_registry(tmp_path, clock, encrypted=True)
    client = InProcessClient(registry)
    # stringData and an applied annotation carrying the value: all of it is inside the ciphertext.
    s = secret("api", stringData={"token": PASSWORD + "-token"})
    s["metadata"]["annotations"] = {"note": PASSWORD + "-note"}
    created = await client.create("secrets", s, "default")
    assert base64.b64decode(created["data"]["token"]).decode() == PASSWORD + "-token"
    got = await client.get("secrets", "api", "default")
    assert got["data"]["password"] == PASSWORD_B64
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    listed = await client.list("secrets", "default")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["api"]
    await store.checkpoint()
    raw_kv = store.get(SECRETS.key("api", "default"))
    assert raw_kv.value[encryption.ENVELOPE_FIELD].startswith("k8s:enc:aesgcm:v1:key1:")
    assert "data" not in raw_kv.value
    await store.close()
    raw = raw_store_bytes(tmp_path)
    for clear in (PASSWORD, PASSWORD_B64, base64.b64encode((PASSWORD + "-token").encode()).decode()):
        assert clear.encode() not in raw
    assert b"k8s:enc:aesgcm:v1:key1:" in raw
    mode = stat.S_IMODE((tmp_path / encryption.CONFIG_FILE).stat().st_mode)
    assert mode == 0o600


async def test_update_delete_and_watch_see_plain_objects(tmp_path, clock):
    store, registry = await open_registry(tmp_path, clock, encrypted=True)
    client = InProcessClient(registry)
    w = registry.watch(SECRETS, "default", resource_version=str(store.revision))
    await w
    await client.create("secrets", secret(), "default")
    cur = await client.get("secrets", "db", "default")
    cur["data"]["user"] = base64.b64encode(b"admin").decode()
    await client.update("secrets", cur, "default")
    await client.patch("secrets", "db", {"metadata": {"labels": {"tier": "db"}}}, "default",
                       patch_type="application/merge-patch+json")
    deleted = await client.delete("secrets", "db", "default")
    assert deleted["data"]["password"] == PASSWORD_B64
    seen = []
    async for ev in w:
        seen.append((ev.type, ev.object["data"].get("user"), ev.object["metadata"].get("labels")))
        if ev.type == "DELETED":
            break
    w.close()
    assert [s[0] for s in seen] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
    assert seen[-1][2] == {"tier": "db"}
    await store.close()


async def test_labels_select_encrypted_secrets(tmp_path, clock):
    store, registry = await open_registry(tmp_path, clock, encrypted=True)
    await registry.create(SECRETS, "default", secret("a", metadata={"name": "a", "labels": {"x": "1"}}))
    await registry.create(SECRETS, "default", secret("b"))
    listed = await registry.list(SECRETS, None, label_selector="x=1")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    await store.close()


async def test_rotation_keeps_secrets_readable_and_reencrypts(tmp_path, clock):
    store, registry = await open_registry(tmp_path, clock, encrypted=True)
    enc = registry.store
    for i in range(3):
        await registry.create(SECRETS, "default", secret(f"s{i}"))
    path = tmp_path / encryption.CONFIG_FILE
    config, name = encryption.rotated_config(encryption.load_config(path), enc.keys_in_use())
    assert name == "key2"
    assert [k["name"] for k in config["resources"][0]["providers"][0]["aesgcm"]["keys"]] == ["key2", "key1"]
    encryption.write_config(path, config)
    assert enc.reload()
    # Before the rewrite, old values read through key1 (second key).
    assert (await registry.get(SECRETS, "default", "s0"))["data"]["password"] == PASSWORD_B64
    assert await enc.rewrite_stale() == 3
    assert enc.keys_in_use() == {"key2"}
    assert await enc.rewrite_stale() == 0
    # The next rotation drops key1 (nothing uses it) and keeps key2 for reading.
    config, name = encryption.rotated_config(config, enc.keys_in_use())
    assert [k["name"] for k in config["resources"][0]["providers"][0]["aesgcm"]["keys"]] == ["key3", "key2"]
    await store.close()
    # Reopened with the rotated configuration: still readable.
    store2 = Store(tmp_path / "store", clock=clock)
    await store2.open()
    reg2 = Registry(EncryptingStore(store2, path), clock=clock)
    assert (await reg2.get(SECRETS, "default", "s2"))["data"]["password"] == PASSWORD_B64
    await store2.close()


async def test_turning_encryption_on_rewrites_plaintext_secrets(tmp_path, clock):
    store, registry = await open_registry(tmp_path, clock, encrypted=False)
    await registry.create(SECRETS, "default", secret())
    encryption.ensure_config(tmp_path / encryption.CONFIG_FILE)
    enc = EncryptingStore(store, tmp_path / encryption.CONFIG_FILE)
    # identity (second provider) reads the old plaintext; it is stale.
    assert (await Registry(enc, clock=clock).get(SECRETS, "default", "db"))["data"]["password"] == PASSWORD_B64
    assert await enc.rewrite_stale() == 1
    assert encryption.ENVELOPE_FIELD in store.get(SECRETS.key("db", "default")).value
    await store.close()


async def test_a_missing_key_is_a_500_with_upstream_wording(tmp_path, clock):
    store, registry = await open_registry(tmp_path, clock, encrypted=True)
    await registry.create(SECRETS, "default", secret())
    # Another configuration whose only key is not the one the value was written with.
    other = encryption.default_config()
    encryption.write_config(tmp_path / "other.yaml", other)
    reg_other = Registry(EncryptingStore(store, tmp_path / "other.yaml"), clock=clock)
    with pytest.raises(errors.InternalError) as e:
        await reg_other.get(SECRETS, "default", "db")
    assert e.value.code == 500
    assert e.value.message == ('Internal error occurred: unable to transform key "/registry/secrets/default/db": '
                               "cipher: message authentication failed")
    # Without any encryption configured, the envelope cannot be read either.
    other["resources"][0]["providers"] = [{"identity": {}}]
    encryption.write_config(tmp_path / "identity.yaml", other)
    reg_plain = Registry(EncryptingStore(store, tmp_path / "identity.yaml"), clock=clock)
    with pytest.raises(errors.InternalError, match="no matching prefix found"):
        await reg_plain.list(SECRETS, "default")
    await store.close()


@pytest.mark.parametrize("config, message", [
    ({"apiVersion": "v1", "kind": "EncryptionConfiguration"}, "apiVersion"),
    ({"apiVersion": encryption.API_VERSION, "kind": "X"}, "kind"),
    ({"apiVersion": encryption.API_VERSION, "kind": encryption.KIND,
      "resources": [{"resources": ["secrets"], "providers": [{"aesgcm": {"keys": [{"name": "k", "secret": "eA=="}]}}]}]},
     "resources[0].providers[0].aesgcm.keys[0]"),
    ({"apiVersion": encryption.API_VERSION, "kind": encryption.KIND,
      "resources": [{"resources": ["secrets"], "providers": [{"kms": {}}]}]}, "unsupported provider 'kms'"),
    ({"apiVersion": encryption.API_VERSION, "kind": encryption.KIND,
      "resources": [{"resources": ["nothings"], "providers": [{"identity": {}}]}]}, "unknown resource"),
])
def test_bad_configuration_names_the_field(config, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        encryption.parse_config(config)
