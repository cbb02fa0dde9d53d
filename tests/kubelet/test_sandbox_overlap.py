"""A pod's first start mounts its volumes and creates its sandbox at once; a FailedMount pod still has
no sandbox (no IP), and after a mount failure the steps run in upstream's order."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from kubetui.agent.apiclient import APIError
from kubetui.clock import FakeClock
from kubetui.kubelet.podworker import PodWorker
from kubetui.kubelet.startuplatency import PodStartupLatencyTracker

POD = {"metadata": {"name": "web", "namespace": "default", "uid": "u-1"},
       "spec": {"serviceAccountName": "default", "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "kube-api-access-x", "projected": {"sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace",
                                                "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}]}}


class Tokens:
    """The TokenRequest answers only when the test says so (the API server is busy)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.asked = 0
        self.fail: APIError | None = None

    async def get(self, pod, audience, seconds):
        self.asked += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {"token": "jwt"}


class Objects:
    def __init__(self) -> None:
        self.tokens = Tokens()

    async def get(self, kind, namespace, name):
        return {"metadata": {"name": name}, "data": {"ca.crt": "PEM"}}


class Runtime:
    supports_tmpfs = False

    def __init__(self) -> None:
        self.created: list[str] = []
        self.removed: list[str] = []

    async def run_pod_sandbox(self, config):
        sid = f"sb{len(self.created) + 1}"
        self.created.append(sid)
        return SimpleNamespace(id=sid, ip="10.244.1.7")

    async def remove_pod_sandbox(self, sid):
        self.removed.append(sid)


def kubelet(tmp_path):
    events = []
    k = SimpleNamespace(clock=FakeClock(), runtime=Runtime(), objects=Objects(), api=object(), pods_dir=tmp_path,
                        startup=PodStartupLatencyTracker(),
                        config=SimpleNamespace(backoff_initial=1.0, volume_sync_period=2.0),
                        sandbox_config=lambda pod: SimpleNamespace(name=pod["metadata"]["name"]),
                        allocatable=lambda: {"cpu": 2.0, "memory": 2.0 * 2 ** 30},
                        events=SimpleNamespace(pod_event=lambda pod, etype, reason, msg, *a: events.append(reason)))
    return k, events


async def until(cond, what: str) -> None:
    for _ in range(1000):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never: {what}")


async def test_the_pod_worker_keeps_upstreams_order_by_default() -> None:
    """Off for now (kubetui.kubelet.podworker.OVERLAP_FIRST_ATTEMPT): a sandbox re-created after a
    failed first mount sometimes never came up on Docker nodes. The tests below switch it on."""
    from kubetui.kubelet import podworker
    assert podworker.OVERLAP_FIRST_ATTEMPT is False


@pytest.fixture
def overlap(monkeypatch):
    from kubetui.kubelet import podworker
    monkeypatch.setattr(podworker, "OVERLAP_FIRST_ATTEMPT", True)


async def test_the_sandbox_is_made_while_the_token_request_waits(tmp_path, overlap):
    k, events = kubelet(tmp_path)
    w = PodWorker(k, POD)
    started = asyncio.create_task(w._create_sandbox())
    await until(lambda: k.objects.tokens.asked, "the token requested")
    await until(lambda: k.runtime.created, "the sandbox created while the TokenRequest is pending")
    assert not started.done()
    k.objects.tokens.gate.set()
    assert await started is True
    assert w.sandbox.id == "sb1" and (tmp_path / "u-1").exists()
    assert (next((tmp_path / "u-1").rglob("token"))).read_text() == "jwt"
    assert events == [] and k.runtime.removed == []


async def test_failed_mount_leaves_no_sandbox_and_later_attempts_mount_first(tmp_path, overlap):
    k, events = kubelet(tmp_path)
    w = PodWorker(k, POD)
    k.objects.tokens.fail = APIError(403, "Forbidden", "serviceaccounts \"default\" is forbidden")
    k.objects.tokens.gate.set()
    assert await w._create_sandbox() is False
    assert events == ["FailedMount"]
    assert k.runtime.removed == k.runtime.created == ["sb1"] and w.sandbox is None     # no IP to report
    # the next attempt waits for its volumes before any sandbox
    k.objects.tokens.fail, k.objects.tokens.gate = None, asyncio.Event()
    retry = asyncio.create_task(w._create_sandbox())
    await until(lambda: k.objects.tokens.asked == 2, "the token requested again")
    for _ in range(50):
        await asyncio.sleep(0)
    assert k.runtime.created == ["sb1"], "a sandbox was made before the volumes were mounted"
    k.objects.tokens.gate.set()
    assert await retry is True and w.sandbox.id == "sb2"
