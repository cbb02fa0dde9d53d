"""`kubetui time` and the time dial's endpoint, on a real background control plane (issue 19).

``GET/POST /apis/controlplane.kubetui.dev/v1alpha1/timedial[/ACTION]`` over
HTTPS: paused, a new Deployment gets no ReplicaSet until a step, which prints
what it ran; bad input is answered 4xx; RBAC guards it like any other path.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from kubetui.api import errors
from kubetui.client import views
from kubetui.client.http import HTTPClient
from tests.cluster_process import kubetui, running_cluster

pytestmark = pytest.mark.slow

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "dialweb", "namespace": "default"},
       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "dialweb"}},
                "template": {"metadata": {"labels": {"app": "dialweb"}},
                             "spec": {"containers": [{"name": "hello", "image": "kubetui/hello:1"}]}}}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("timedial") / "cluster"
    with running_cluster(state, nodes=2) as kubeconfig:
        yield state, kubeconfig


def _time(state, *args: str):
    return kubetui("time", *args, "--state-dir", str(state))


async def _client_do(kubeconfig, fn):
    client = HTTPClient.from_kubeconfig(kubeconfig)
    try:
        return await fn(client)
    finally:
        await client.close()


def test_paused_a_deployment_waits_for_step_and_step_says_what_ran(cluster):
    state, kubeconfig = cluster
    r = _time(state, "pause")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("PAUSED (the control plane's timers stand still)")
    try:
        asyncio.run(_client_do(kubeconfig, lambda c: c.create("deployments", WEB, "default")))

        async def held(c):
            deadline = time.monotonic() + 30
            while True:
                doc = await views.time_dial(c)
                if {"component": "deployment", "key": "default/dialweb"} in doc["status"]["waiting"]:
                    return doc
                assert time.monotonic() < deadline, doc
                await asyncio.sleep(0.1)
        doc = asyncio.run(_client_do(kubeconfig, held))
        assert doc["kind"] == "TimeDial" and doc["status"]["mode"] == "Paused"
        status = _time(state, "status")
        assert status.returncode == 0 and "deployment default/dialweb" in status.stdout, status.stdout
        rss = asyncio.run(_client_do(kubeconfig, lambda c: c.list("replicasets", "default")))
        assert not [r for r in rss["items"] if r["metadata"]["name"].startswith("dialweb-")]

        # Step until the Deployment controller's turn comes (other controllers may be queued first).
        out = ""
        for _ in range(20):
            step = _time(state, "step")
            assert step.returncode == 0, step.stderr
            out = step.stdout
            if "ran: deployment default/dialweb" in out:
                break
        assert "ran: deployment default/dialweb" in out, out
        assert "    decided:  create rs dialweb-" in out, out          # the reconcile log's words for it
        assert "    write:    create replicasets default/dialweb-" in out, out
        rss = asyncio.run(_client_do(kubeconfig, lambda c: c.list("replicasets", "default")))
        mine = [r for r in rss["items"] if r["metadata"]["name"].startswith("dialweb-")]
        assert len(mine) == 1
        pods = asyncio.run(_client_do(kubeconfig, lambda c: c.list("pods", "default",
                                                                    label_selector="app=dialweb")))
        assert pods["items"] == []             # the ReplicaSet controller has not had its turn
    finally:
        r = _time(state, "resume")
    assert r.returncode == 0 and r.stdout.startswith("RUNNING"), r.stdout

    async def available(c):
        deadline = time.monotonic() + 60
        while True:
            d = await c.get("deployments", "dialweb", "default")
            if (d.get("status") or {}).get("availableReplicas") == 2:
                return
            assert time.monotonic() < deadline, d.get("status")
            await asyncio.sleep(0.1)
    asyncio.run(_client_do(kubeconfig, available))


def test_speed_and_bad_input(cluster):
    state, kubeconfig = cluster
    r = _time(state, "speed", "0.25x")
    assert r.returncode == 0 and "SLOW MOTION" in r.stdout and "speed 0.25x" in r.stdout, r.stdout
    r = _time(state, "speed", "1x")
    assert r.returncode == 0 and r.stdout.startswith("RUNNING"), r.stdout
    bad = _time(state, "speed", "3x")
    assert bad.returncode == 1 and "out of range" in bad.stderr and "Traceback" not in bad.stderr
    running = _time(state, "step")
    assert running.returncode == 1 and "not paused" in running.stderr, running.stderr

    async def http(c):
        with pytest.raises(errors.BadRequest, match="out of range"):
            await views.turn_time_dial(c, "speed", {"speed": "9x"})
        with pytest.raises(errors.BadRequest, match="speed"):
            await views.turn_time_dial(c, "speed", {})
        with pytest.raises(errors.Conflict, match="not paused"):
            await views.turn_time_dial(c, "step", {"count": 1})
        with pytest.raises(errors.BadRequest, match="count"):
            await views.turn_time_dial(c, "step", {"count": 0})
        with pytest.raises(errors.MethodNotAllowed):
            await c.request("GET", f"{views.TIMEDIAL_PATH}/pause")
        with pytest.raises(errors.MethodNotAllowed):
            await c.request("POST", views.TIMEDIAL_PATH, body={})
        with pytest.raises(errors.BadRequest, match="JSON"):
            await c.request("POST", f"{views.TIMEDIAL_PATH}/pause", body=b"{nope")
        with pytest.raises(errors.NotFound):
            await c.request("POST", f"{views.TIMEDIAL_PATH}/rewind", body={})
        assert (await views.time_dial(c))["status"]["mode"] == "Running"    # nothing half-done
    asyncio.run(_client_do(kubeconfig, http))


def test_rbac_guards_the_dial(cluster, tmp_path):
    state, kubeconfig = cluster
    r = kubetui("user", "add", "dave", "--credential", "token", "--namespace", "default", "--role", "view",
                "-o", str(tmp_path / "dave.kubeconfig"), "--state-dir", str(state))
    assert r.returncode == 0, r.stderr

    async def forbidden(c):
        with pytest.raises(errors.Forbidden, match='cannot create resource "timedial" in API group '
                                                   '"controlplane.kubetui.dev"'):
            await views.turn_time_dial(c, "pause")
    asyncio.run(_client_do(tmp_path / "dave.kubeconfig", forbidden))
    assert asyncio.run(_client_do(kubeconfig, views.time_dial))["status"]["paused"] is False
