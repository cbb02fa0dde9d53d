"""`kubetui activity` and the reconcile log's endpoint, on a real background control plane (issue 19).

``GET /apis/controlplane.kubetui.dev/v1alpha1/[namespaces/NS/]reconciles`` over
HTTPS (filtered by object, a long poll, bad input answered 400, RBAC like any
other path), and the command printing it.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from kubetui.api import errors
from kubetui.client import views
from kubetui.client.http import HTTPClient
from kubetui.cmd.activity import print_activity
from tests.cluster_process import kubetui, running_cluster

pytestmark = pytest.mark.slow

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "hello", "image": "kubetui/hello:1"}]}}}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("activity") / "cluster"
    with running_cluster(state, nodes=2) as kubeconfig:
        yield state, kubeconfig


async def _web_running(client) -> None:
    try:
        await client.create("deployments", WEB, "default")
    except errors.AlreadyExists:
        pass
    deadline = time.monotonic() + 60
    while True:
        d = await client.get("deployments", "web", "default")
        if (d.get("status") or {}).get("availableReplicas") == d["spec"]["replicas"]:
            return
        assert time.monotonic() < deadline, d.get("status")
        await asyncio.sleep(0.1)


async def test_the_endpoint_filters_by_object_and_long_polls(cluster):
    state, kubeconfig = cluster
    client = HTTPClient.from_kubeconfig(kubeconfig)
    try:
        await _web_running(client)
        doc = await views.reconciles(client, object="deploy/web", namespace="default")
        assert doc["kind"] == "ReconcileRecordList" and doc["apiVersion"] == "controlplane.kubetui.dev/v1alpha1"
        items = doc["items"]
        controllers = {i["controller"] for i in items}
        assert {"deployment", "replicaset", "scheduler"} <= controllers
        kinds = {i["object"]["kind"] for i in items}
        assert kinds == {"Deployment", "ReplicaSet", "Pod"}
        assert [i["seq"] for i in items] == sorted(i["seq"] for i in items)
        d = next(i for i in items if i["controller"] == "deployment" and i["writes"])
        assert d["observed"][0].startswith("want 2, have ") and d["startTime"].endswith("Z")
        assert d["writes"][0]["verb"] in ("create", "update") and "resourceVersionAfter" in d["writes"][0]
        # The cluster-wide path sees other controllers too; ?controller= keeps one.
        everything = await views.reconciles(client, controller="scheduler", tail=3)
        assert 0 < len(everything["items"]) <= 3 and {i["controller"] for i in everything["items"]} == {"scheduler"}

        # A long poll: nothing new for web, so it waits; scaling web answers it.
        since = doc["lastSeq"]
        poll = asyncio.create_task(views.reconciles(client, since=since, object="deploy/web",
                                                    namespace="default", wait=15))
        await asyncio.sleep(0.3)
        assert not poll.done()
        await client.patch("deployments", "web", {"spec": {"replicas": 3}}, "default")
        got = await asyncio.wait_for(poll, 20)
        assert got["items"] and all(i["seq"] > since for i in got["items"])
        # the first of web's records after the patch answered the poll; the scale step is among the next ones
        texts = [t["text"] for i in got["items"] for t in i["decided"]]
        deadline = time.monotonic() + 20
        while not any(t.startswith("scale up rs web-") and t.endswith("from 2 to 3") for t in texts):
            assert time.monotonic() < deadline, texts
            got = await views.reconciles(client, since=got["lastSeq"], object="deploy/web", namespace="default",
                                         wait=5, silent=False)
            texts += [t["text"] for i in got["items"] for t in i["decided"]]

        # Bad input: 400 with the reason, never 5xx.
        with pytest.raises(errors.BadRequest, match='the server doesn\'t have a resource type "frobs"'):
            await views.reconciles(client, object="frobs/web")
        with pytest.raises(errors.BadRequest, match="since"):
            await client.request("GET", views.reconciles_path(), params={"since": "soon"})
        with pytest.raises(errors.BadRequest, match="silent"):
            await client.request("GET", views.reconciles_path(), params={"silent": "maybe"})
        with pytest.raises(errors.MethodNotAllowed):
            await client.request("POST", views.reconciles_path(), body={})

        # --follow: prints what comes, as it comes (the scale to 3 may still be settling: wait for the step down).
        printed: list[str] = []
        follow = asyncio.create_task(print_activity(client, namespace="default", object="Deployment/default/web",
                                                    controller="deployment", tail=0, follow=True, as_json=False,
                                                    out=printed.append))
        await asyncio.sleep(0.3)
        await client.patch("deployments", "web", {"spec": {"replicas": 2}}, "default")
        deadline = time.monotonic() + 20
        while not any(line.startswith("    decided:  scale down rs web-") for line in printed):
            assert time.monotonic() < deadline and not follow.done(), printed
            await asyncio.sleep(0.05)
        follow.cancel()
        heads = [line for line in printed if line.startswith("#")]
        assert heads and all(h.split()[2:4] == ["deployment", "Deployment/default/web"] for h in heads)
    finally:
        await client.close()


async def test_rbac_guards_it_like_every_other_path(cluster, tmp_path):
    state, kubeconfig = cluster
    r = kubetui("user", "add", "carol", "--credential", "token", "--namespace", "default", "--role", "view",
                "-o", str(tmp_path / "carol.kubeconfig"), "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    carol = HTTPClient.from_kubeconfig(tmp_path / "carol.kubeconfig")
    try:
        with pytest.raises(errors.Forbidden, match='cannot list resource "reconciles" in API group '
                                                   '"controlplane.kubetui.dev" in the namespace "default"'):
            await views.reconciles(carol, namespace="default")
    finally:
        await carol.close()


def test_the_command_prints_a_deployments_story(cluster):
    state, kubeconfig = cluster
    asyncio.run(_create_web(kubeconfig))
    r = kubetui("activity", "--state-dir", str(state), "--object", "deploy/web", "--tail", "200")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert " deployment Deployment/default/web (" in out
    assert " replicaset ReplicaSet/default/web-" in out
    assert " scheduler Pod/default/web-" in out
    assert "    observed: want " in out and "    decided:  create rs web-" in out
    assert "    write:    create replicasets default/web-" in out
    # Silent syncs (the garbage collector looking at web's pods) only with --silent.
    assert " garbage-collector " not in out
    loud = kubetui("activity", "--state-dir", str(state), "--object", "deploy/web", "--all", "--silent")
    assert loud.returncode == 0 and " garbage-collector Pod/default/web-" in loud.stdout
    bad = kubetui("activity", "--state-dir", str(state), "--object", "web")
    assert bad.returncode == 1 and "must be TYPE/NAME" in bad.stderr and "Traceback" not in bad.stderr


async def _create_web(kubeconfig) -> None:
    client = HTTPClient.from_kubeconfig(kubeconfig)
    try:
        await _web_running(client)
    finally:
        await client.close()


async def test_a_step_of_the_scheduler_answers_with_its_cycle_and_binding(cluster):
    """`kubetui time step` shows what a step did: a scheduling cycle's record is published when its
    binding (started in the background) ends, so the step waits for it."""
    state, kubeconfig = cluster
    client = HTTPClient.from_kubeconfig(kubeconfig)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stepme", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "kubetui/hello:1"}]}}
    try:
        await views.turn_time_dial(client, "pause")
        await client.create("pods", pod, "default")
        records: list[dict] = []
        for _ in range(30):
            doc = await views.turn_time_dial(client, "step", {"count": 1, "waitSeconds": 5})
            if any(t.get("component") == "scheduler" and t.get("key") == "default/stepme" for t in doc["ran"]):
                records = doc["reconciles"]
                break
        mine = [r for r in records if r["controller"] == "scheduler" and r["object"]["name"] == "stepme"]
        assert mine, records
        assert mine[0]["decided"][0]["text"].startswith("bind stepme to ")
        assert [(w["verb"], w.get("subresource")) for w in mine[0]["writes"]] == [("create", "binding")]
    finally:
        await views.turn_time_dial(client, "resume")
        await client.close()
