"""The kubelet's KUBERNETES_SERVICE_* variables: read once per node, not once per pod start."""

from __future__ import annotations

import asyncio

from kubetui.clock import FakeClock
from kubetui.kubelet.kubelet import Kubelet, KubeletConfig
from tests.kubelet.test_events import FakeAPI


async def test_a_burst_of_pod_starts_reads_the_kubernetes_service_once(tmp_path):
    class Api(FakeAPI):
        async def get(self, path: str) -> dict:
            await self._call("GET", path, {})
            return {"spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 443}]}}

    class Runtime:
        routes_pods, pod_cidr = True, "10.244.1.0/24"

    api = Api()
    k = Kubelet(KubeletConfig(node_name="n1", root_dir=tmp_path), api, Runtime(), clock=FakeClock())
    envs = await asyncio.gather(*(k.service_env() for _ in range(30)))
    assert all(e["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" for e in envs)
    assert [c[0] for c in api.calls] == ["GET"]


async def test_the_kubelet_reads_the_kubernetes_service_before_any_pod_arrives(tmp_path, monkeypatch):
    class Api(FakeAPI):
        async def get(self, path: str) -> dict:
            await self._call("GET", path, {})
            return {"spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 443}]}}

    class Runtime:
        routes_pods, pod_cidr = True, "10.244.1.0/24"

    api = Api()
    k = Kubelet(KubeletConfig(node_name="n1", root_dir=tmp_path), api, Runtime(), clock=FakeClock())
    idle = asyncio.Event()

    async def nothing(*_a) -> None:
        await idle.wait()
    for loop in ("register", "_lease_loop", "_status_loop", "_pods_loop"):
        monkeypatch.setattr(k, loop, nothing if loop != "register" else (lambda: asyncio.sleep(0)))
    monkeypatch.setattr(k.network, "run", nothing)
    monkeypatch.setattr(k.network, "resync_loop", nothing)
    run = asyncio.create_task(k._register_then_run())
    for _ in range(20):
        await asyncio.sleep(0)
    assert [c[1] for c in api.calls] == ["/api/v1/namespaces/default/services/kubernetes"]
    assert (await k.service_env())["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert len(api.calls) == 1
    run.cancel()
    for t in k._tasks:
        t.cancel()
    await asyncio.gather(run, *k._tasks, return_exceptions=True)
