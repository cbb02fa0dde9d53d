"""The control-plane view's API (``controlplanestatus``) against a real three-member etcd cluster, and
what kube-apiserver does while that cluster has lost its quorum.

One API server (an in-process ``ControlPlane`` with ``etcd_servers``, as each control-plane process of
``kubetui up --control-planes 3`` is) on three etcd members started by the test with TLS from the
cluster CA. Killing the raft leader shows the election in the view (the leader moves, the term grows);
killing a second member loses the quorum: writes and reads of the latest state fail with etcd's
``etcdserver: request timed out``, reads with ``resourceVersion=0`` are served from the cache, and
the view itself still answers (it says there is no leader).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ssl
from pathlib import Path

import pytest

from kubetui.api import errors
from kubetui.client import views
from kubetui.store.etcdstatus import member_id, summarize

pytestmark = pytest.mark.etcd


def test_summarize_marks_the_leader_and_the_quorum() -> None:
    members = [{"ID": "1", "name": "a", "clientURLs": ["https://127.0.0.1:1"]},
               {"ID": "2", "name": "b", "clientURLs": ["https://127.0.0.1:2"]},
               {"ID": "3", "name": "c", "clientURLs": ["https://127.0.0.1:3"]}]

    def st(me: str, leader: str | None, term: int, errs: list[str] | None = None) -> dict:
        return {"header": {"member_id": me}, "raftTerm": str(term), "raftIndex": "9", "dbSize": "20480",
                **({"leader": leader} if leader else {}), **({"errors": errs} if errs else {})}
    s = summarize(members, [st("1", "2", 3), st("2", "2", 3), ConnectionRefusedError("connect: refused")])
    assert s["leader"] == "b" and s["raftTerm"] == 3 and s["quorum"] == 2 and s["hasQuorum"]
    assert [m["isLeader"] for m in s["members"]] == [False, True, False]
    assert [m["healthy"] for m in s["members"]] == [True, True, False]
    assert s["members"][2]["errors"] == ["connect: refused"] and s["members"][0]["dbSize"] == 20480
    # two members down: the survivor has no leader and says so; no quorum
    s = summarize(members, [st("1", "2", 3), OSError("down"), OSError("down")])
    assert s["leader"] == "" and not any(m["isLeader"] for m in s["members"]), \
        "a follower remembers its dead leader for an election timeout: not shown as leading"
    assert not s["hasQuorum"] and s["reachableMembers"] == 1
    s = summarize(members, [st("1", None, 3, ["etcdserver: no leader"]), st("2", None, 3), OSError("down")])
    assert s["hasQuorum"] and s["leader"] == "", "two of three answer: a majority, electing a leader"
    s = summarize(members, [st("1", None, 3, ["etcdserver: no leader"]), OSError("down"), OSError("down")])
    assert s["leader"] == "" and not s["hasQuorum"] and s["healthyMembers"] == 0
    assert s["members"][0]["errors"] == ["etcdserver: no leader"] and not s["members"][0]["isLeader"]
    assert member_id("2") == "2" and member_id(None) == ""


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """Three etcd members with TLS and peer TLS from the state dir's cluster CA."""
    from kubetui.apiserver.certs import ensure_pki
    from kubetui.apiserver.etcdcerts import ensure_etcd_certs
    from kubetui.cluster.ha import initial_cluster
    from kubetui.netutil import free_port
    from kubetui.store.etcdserver import EtcdServer
    state = tmp_path_factory.mktemp("cpstatus")
    tls = ensure_etcd_certs(ensure_pki(state, "t"))
    members = [EtcdServer(state / f"etcd-{n}" / "etcd", free_port(), free_port(), state / f"etcd-{n}.log",
                          name=f"t-control-plane{n}", tls=tls, initial_cluster="-") for n in ("", "2", "3")]
    for m in members:
        m.initial_cluster = initial_cluster(members)
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        list(ex.map(lambda m: m.start(60), members))
    try:
        yield state, members
    finally:
        for m in members:
            m.stop()


async def _until(what: str, check, timeout: float = 60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await check()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_the_view_shows_members_leases_and_an_election_and_quorum_loss_fails_latest_reads(three) -> None:
    from kubetui.client.http import HTTPClient
    from kubetui.cluster.controlplane import ControlPlane
    from kubetui.cluster.settings import ClusterSettings

    state, members = three
    cp = ControlPlane(ClusterSettings(name="t", provider="simulated", nodes=0, api_port=0, store="etcd"), state,
                      etcd_servers=",".join(m.endpoint for m in members), node_name="t-control-plane")
    await cp.start()
    client = HTTPClient(cp.apiserver.url, token=cp.authenticator.admin_token(),
                        ssl_context=ssl.create_default_context(cadata=cp.pki.ca_pem().decode()))
    killed: list = []
    try:
        async def status() -> dict:
            return await views.control_plane_status(client)

        # both components elect themselves (alone among the candidates) and the view names the holders
        doc = await _until("both Leases held", lambda: _with(status, lambda d: all(
            r["holderNode"] == "t-control-plane" for r in d["leases"])))
        assert doc["kind"] == "ControlPlaneStatus" and doc["servedBy"] == "t-control-plane"
        assert doc["store"]["backend"] == "etcd"
        etcd = doc["etcd"]
        assert sorted(m["name"] for m in etcd["members"]) == [m.name for m in members]
        assert etcd["hasQuorum"] and etcd["quorum"] == 2 and etcd["healthyMembers"] == 3
        assert sum(m["isLeader"] for m in etcd["members"]) == 1 and etcd["leader"]
        assert all(m["raftIndex"] > 0 and m["dbSize"] > 0 and m["healthy"] for m in etcd["members"])
        assert etcd["reachableMembers"] == 3
        assert {r["name"] for r in doc["leases"]} == {"kube-scheduler", "kube-controller-manager"}
        assert all(r["renewTime"] for r in doc["leases"])

        # kill -9 the raft leader: the others elect one of themselves in a newer term
        old_leader, old_term = etcd["leader"], etcd["raftTerm"]
        victim = next(m for m in members if m.name == old_leader)
        victim.kill()
        killed.append(victim)
        doc = await _until("a new etcd leader", lambda: _with(status, lambda d: d["etcd"]["leader"] not in
                                                              ("", old_leader)))
        assert doc["etcd"]["raftTerm"] > old_term, "every election starts a new term"
        gone = next(m for m in doc["etcd"]["members"] if m["name"] == old_leader)
        assert not gone["healthy"] and "connect: connection refused" in gone["errors"][0], \
            "the killed member is shown down, with why (in etcdctl's words)"
        await client.create("configmaps", {"metadata": {"name": "two-of-three"}}, "default")

        # kill a second member: no quorum. Writes and latest-state reads fail with etcd's words ...
        second = next(m for m in members if m not in killed)
        second.kill()
        killed.append(second)
        alive = next(m.name for m in members if m not in killed)
        doc = await _until("the survivor without a leader", lambda: _with(status, lambda d: "etcdserver: no leader" in
                                                                         _member(d, alive)["errors"]))
        assert doc["etcd"]["leader"] == "" and not doc["etcd"]["hasQuorum"] and not _member(doc, alive)["healthy"]
        with pytest.raises(errors.StatusError) as e:
            await client.create("configmaps", {"metadata": {"name": "no-quorum"}}, "default")
        assert e.value.code == 500 and ("etcdserver: request timed out" in str(e.value)
                                        or "context deadline exceeded" in str(e.value)), e.value
        with pytest.raises(errors.StatusError) as e:
            await client.request("GET", "/api/v1/namespaces/default/configmaps/two-of-three")
        assert e.value.code == 500 and "etcdserver: request timed out" in str(e.value), \
            "a GET without resourceVersion is a quorum read, as kube-apiserver's"
        # ... while resourceVersion=0 ("any state you have") is served from the watch cache
        cm = await client.request("GET", "/api/v1/namespaces/default/configmaps/two-of-three",
                                  params={"resourceVersion": "0"})
        assert cm["metadata"]["name"] == "two-of-three"
        lst = await client.request("GET", "/api/v1/namespaces/default/configmaps", params={"resourceVersion": "0"})
        assert "two-of-three" in {i["metadata"]["name"] for i in lst["items"]}
        assert "no-quorum" not in {i["metadata"]["name"] for i in lst["items"]}, "nothing half-stored"
        # an informer starting now lists as client-go's reflector does first, with resourceVersion=0: it syncs
        from kubetui.client.informer import SharedInformer
        informer = SharedInformer(client, "configmaps", "default")
        await informer.start()
        try:
            await asyncio.wait_for(informer.wait_for_sync(), 5)
            assert "default/two-of-three" in {f"default/{o['metadata']['name']}" for o in informer.list()}
        finally:
            await informer.stop()

        # both back: a leader again, writes commit
        await asyncio.gather(*(asyncio.to_thread(m.start, 60) for m in killed))
        killed.clear()
        await _until("a leader again", lambda: _with(status, lambda d: d["etcd"]["leader"]))
        await client.create("configmaps", {"metadata": {"name": "quorum-back"}}, "default")
    finally:
        await asyncio.gather(*(asyncio.to_thread(m.start, 60) for m in killed), return_exceptions=True)
        await client.close()
        await cp.stop()


def _member(doc: dict, name: str) -> dict:
    return next(m for m in doc["etcd"]["members"] if m["name"] == name)


async def _with(fetch, ok) -> dict | None:
    doc = await fetch()
    return doc if ok(doc) else None


async def test_a_single_control_plane_on_tinydb_answers_too(tmp_path: Path) -> None:
    """The default (one process, the embedded store): one node, no etcd members, its own API server."""
    from kubetui.cluster.controlplane import ControlPlane
    from kubetui.cluster.settings import ClusterSettings
    from kubetui.cluster.views import serve_controlplane

    cp = ControlPlane(ClusterSettings(name="t", provider="simulated", nodes=0, api_port=0), tmp_path)
    await cp.start()
    try:
        from kubetui.cluster.cpstatus import control_plane_status

        async def no_fetch(address: str, path: str) -> dict:
            raise AssertionError("a single control plane has no load balancer to ask")
        doc = await control_plane_status(cp, no_fetch)
        assert doc["topology"] == "single" and doc["etcd"] is None and doc["store"]["backend"] == "tinydb"
        assert len(doc["nodes"]) == 1 and doc["nodes"][0]["process"] == "Running"
        assert doc["apiServers"][0]["healthy"] and doc["apiServers"][0]["address"].endswith(str(cp.apiserver.port))
        assert {r["name"] for r in doc["leases"] if r["holderIdentity"]} == {"kube-scheduler",
                                                                            "kube-controller-manager"}
        assert serve_controlplane  # served by the same dispatcher as activity and storekeys
    finally:
        await cp.stop()
