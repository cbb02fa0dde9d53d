"""InProcessClient: the Client protocol over the registry, with private copies both ways."""

import asyncio
import copy

import pytest

from kubetui.api import errors
from kubetui.api.patch import copy_json
from kubetui.apiserver.registry import Registry
from kubetui.apiserver.inprocess import InProcessClient
from kubetui.client import MERGE_PATCH, STRATEGIC_MERGE_PATCH
from kubetui.clock import FakeClock
from kubetui.store import Store


@pytest.fixture
async def client():
    clock = FakeClock()
    store = Store(None, clock=clock)
    await store.open()
    registry = Registry(store, clock=clock)
    await registry.bootstrap()
    yield InProcessClient(registry)
    await store.close()


DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}},
                                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}


async def test_crud_by_any_resource_name(client):
    body = copy.deepcopy(DEPLOY)
    d = await client.create("deploy", body)
    assert d["metadata"]["namespace"] == "default"
    assert (await client.get("Deployment", "web"))["metadata"]["uid"] == d["metadata"]["uid"]
    assert [i["metadata"]["name"] for i in (await client.list("deployments.apps"))["items"]] == ["web"]
    d["spec"]["replicas"] = 3
    d2 = await client.update("deployments", d)
    assert d2["spec"]["replicas"] == 3
    d3 = await client.patch("deployments", "web", {"spec": {"replicas": 4}}, "default", patch_type=MERGE_PATCH)
    assert d3["spec"]["replicas"] == 4
    scale = await client.get("deployments", "web", "default", subresource="scale")
    assert scale["spec"]["replicas"] == 4
    await client.delete("deployments", "web", propagation_policy="Background")
    with pytest.raises(errors.NotFound):
        await client.get("deployments", "web")
    with pytest.raises(errors.NotFound, match='the server doesn\'t have a resource type "gizmos"'):
        await client.get("gizmos", "x")


async def test_objects_are_private_copies_both_ways(client):
    body = copy.deepcopy(DEPLOY)
    d = await client.create("deployments", body)
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "mutated-after-create"
    d["spec"]["template"]["spec"]["containers"][0]["image"] = "mutated-result"
    got = await client.get("deployments", "web")
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    got["metadata"]["labels"] = {"mutated": "yes"}
    listed = await client.list("deployments", "default")
    assert "labels" not in listed["items"][0]["metadata"]
    listed["items"][0]["spec"]["replicas"] = 99
    assert (await client.get("deployments", "web"))["spec"]["replicas"] == 1
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}}
    await client.patch("deployments", "web", patch, patch_type=STRATEGIC_MERGE_PATCH)
    patch["spec"]["template"]["spec"]["containers"][0]["image"] = "mutated-patch"
    assert (await client.get("deployments", "web"))["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"


async def test_watch_events_are_copies(client):
    w = client.watch("configmaps", "default")
    await client.create("configmaps", {"metadata": {"name": "a"}, "data": {"k": "v"}})
    ev = await asyncio.wait_for(w.__anext__(), 1)
    assert ev.type == "ADDED"
    ev.object["data"]["k"] = "mutated"
    assert (await client.get("configmaps", "a"))["data"] == {"k": "v"}
    w.close()


async def test_delete_preconditions_and_binding(client):
    p = await client.create("pods", {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    with pytest.raises(errors.Conflict):
        await client.delete("pods", "web", uid="other-uid")
    out = await client.create("pods", {"target": {"kind": "Node", "name": "n1"}}, "default",
                              subresource="binding", name="web")
    assert out["status"] == "Success"
    assert (await client.get("pods", "web"))["spec"]["nodeName"] == "n1"
    await client.delete("pods", "web", uid=p["metadata"]["uid"], grace_period_seconds=0)


def test_copy_json_is_a_deep_copy():
    # (Speed, measured by hand: ~15 us per running Pod against ~24 us for a JSON
    # round trip and ~30 us for copy.deepcopy; tests never assert wall-clock.)
    pod = {"metadata": {"name": "web", "labels": {"a": "b"}, "ownerReferences": [{"uid": "u", "controller": True}]},
           "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}, "n": None, "f": 1.5}
    c = copy_json(pod)
    assert c == pod
    c["metadata"]["labels"]["a"] = "x"
    c["metadata"]["ownerReferences"][0]["uid"] = "x"
    c["spec"]["containers"][0]["ports"].append({})
    assert pod["metadata"]["labels"] == {"a": "b"}
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "u"
    assert pod["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]
