"""The etcd backend as a learner meets it: etcdctl shows kube-apiserver's keys and JSON values,
several API servers share one etcd, and the mirror follows writes made by anyone."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from kubetui.store import RevisionMismatch
from kubetui.store.etcdserver import find_binary

pytestmark = pytest.mark.etcd

POD = "/registry/pods/default/web-1"


def etcdctl(member, *args: str) -> str:
    r = subprocess.run([find_binary("etcdctl"), "--endpoints", member.endpoint, *member.tls.etcdctl_flags(), *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
async def two(etcd_member):
    """Two API servers' stores on one etcd."""
    from kubetui.store.etcd import EtcdStore
    etcd_member.wipe()
    stores = [EtcdStore(etcd_member.endpoint, ssl_context=etcd_member.context()) for _ in range(2)]
    for s in stores:
        await s.open()
    yield stores
    for s in stores:
        await s.close()


async def test_etcdctl_shows_the_object_as_kube_apiserver_stores_it(two, etcd_member) -> None:
    a, _ = two
    kv = await a.create(POD, {"apiVersion": "v1", "kind": "Pod",
                              "metadata": {"name": "web-1", "namespace": "default", "resourceVersion": "7"}})
    out = await asyncio.to_thread(etcdctl, etcd_member, "get", POD, "--print-value-only")
    stored = json.loads(out)
    assert stored == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "default"}}, \
        "the resourceVersion is the key's mod_revision, never stored in the value"
    listed = json.loads(await asyncio.to_thread(etcdctl, etcd_member, "get", "/registry/pods/", "--prefix",
                                                "--keys-only", "-w", "json"))
    assert listed["kvs"][0]["mod_revision"] == kv.mod_revision
    assert kv.value["metadata"]["resourceVersion"] == str(kv.mod_revision)


async def test_two_api_servers_on_one_etcd_see_each_other_and_compare_and_swap(two) -> None:
    a, b = two
    kv = await a.create(POD, {"metadata": {"name": "web-1"}})
    for _ in range(200):
        if b.get(POD) is not None:
            break
        await asyncio.sleep(0.01)
    assert b.get(POD) == kv, "b's mirror follows a's write through etcd's watch"
    await b.update(POD, {"metadata": {"name": "web-1"}, "spec": {"by": "b"}}, expected_mod_revision=kv.mod_revision)
    with pytest.raises(RevisionMismatch) as e:
        await a.update(POD, {"metadata": {"name": "web-1"}, "spec": {"by": "a"}},
                       expected_mod_revision=kv.mod_revision)
    assert e.value.kv.value["spec"] == {"by": "b"}, "the loser learns the winner's value, from etcd"


async def test_a_write_made_with_etcdctl_reaches_the_mirror_and_its_watchers(two, etcd_member) -> None:
    a, _ = two
    w = a.watch("/registry/configmaps/", a.revision)
    await asyncio.to_thread(etcdctl, etcd_member, "put", "/registry/configmaps/default/c",
                            json.dumps({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}))
    ev = await asyncio.wait_for(w.__anext__(), 10)
    assert ev.type == "PUT" and ev.kv.value["data"] == {"k": "v"}
    assert a.get("/registry/configmaps/default/c").value["metadata"]["resourceVersion"] == str(ev.revision)
    w.close()


async def test_health_says_when_etcd_is_gone(tmp_path) -> None:
    from kubetui.netutil import free_port
    from kubetui.store.etcd import EtcdStore
    from kubetui.store.etcdserver import EtcdServer
    server = EtcdServer(tmp_path / "etcd", free_port(), free_port(), tmp_path / "etcd.log")
    await asyncio.to_thread(server.start)
    s = EtcdStore(server.endpoint)
    try:
        await s.open()
        assert s.health() is None
        await asyncio.to_thread(server.kill)
        for _ in range(100):
            if s.health() is not None:
                break
            await asyncio.sleep(0.1)
        assert "etcd at http://127.0.0.1" in (s.health() or "")
        from kubetui.store.etcd import EtcdUnavailable
        with pytest.raises(EtcdUnavailable) as e:
            await s.create(POD, {"metadata": {"name": "web-1"}})
        status = e.value.status()  # what the API server answers: kube-apiserver's pass-through of etcd's error
        assert status["code"] == 500 and not status["reason"]
        assert status["message"].startswith("rpc error: code = Unavailable") and "connection refused" in status["message"]
        assert s.get(POD) is None and s.range("/") == [], "reads are still served from the mirror"
    finally:
        await s.close()
        server.stop()


async def test_key_history_is_etcds_own(two) -> None:
    a, b = two
    kv = await a.create(POD, {"metadata": {"name": "web-1"}})
    await a.create("/registry/pods/default/web-10", {"metadata": {"name": "web-10"}})
    await a.update(POD, {"metadata": {"name": "web-1"}, "spec": {"x": 1}})
    gone = await a.delete(POD)
    oldest, events = await b.key_history(POD)  # read from etcd, not from b's mirror
    assert oldest == 1, "nothing compacted yet: etcd replays from revision 1"
    events = [e for e in events if e.revision >= kv.mod_revision]  # earlier tests wrote the key too
    assert [(e.type, e.revision - kv.mod_revision) for e in events] == [("PUT", 0), ("PUT", 2), ("DELETE", 3)]
    assert events[2].kv == gone and events[1].prev_kv == events[0].kv


async def test_several_endpoints_a_dead_one_is_passed_over(etcd_member) -> None:
    from kubetui.netutil import free_port
    from kubetui.store.etcd import EtcdStore
    etcd_member.wipe()
    dead = f"https://127.0.0.1:{free_port()}"
    s = EtcdStore(f"{dead},{etcd_member.endpoint}", ssl_context=etcd_member.context())
    try:
        await s.open()
        kv = await s.create(POD, {"metadata": {"name": "web-1"}})
        assert s.get(POD) == kv and s.endpoint == etcd_member.endpoint and s.health() is None
    finally:
        await s.close()


async def test_a_transaction_writing_two_keys_reaches_the_mirror_whole(two, etcd_member) -> None:
    import base64
    import urllib.request
    a, _ = two
    w = a.watch("/registry/configmaps/", a.revision)

    def put(key: str) -> dict:
        value = json.dumps({"kind": "ConfigMap", "metadata": {"name": key.rsplit("/", 1)[1]}})
        return {"request_put": {"key": base64.b64encode(key.encode()).decode(),
                                "value": base64.b64encode(value.encode()).decode()}}
    body = json.dumps({"success": [put("/registry/configmaps/default/t1"),
                                   put("/registry/configmaps/default/t2")]}).encode()
    req = urllib.request.Request(etcd_member.endpoint + "/v3/kv/txn", data=body, method="POST")
    await asyncio.to_thread(lambda: urllib.request.urlopen(req, timeout=10, context=etcd_member.context()).read())
    got = [await asyncio.wait_for(w.__anext__(), 10) for _ in range(2)]
    assert [e.kv.key for e in got] == ["/registry/configmaps/default/t1", "/registry/configmaps/default/t2"]
    assert got[0].revision == got[1].revision
    assert [kv.key for kv in a.range("/registry/configmaps/")] == [e.kv.key for e in got]
    kv = await a.create("/registry/configmaps/default/t3", {"metadata": {"name": "t3"}})
    assert kv.mod_revision == got[0].revision + 1 and a.get(kv.key) == kv, "and the mirror goes on"
    w.close()
