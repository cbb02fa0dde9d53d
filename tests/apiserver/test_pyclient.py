"""The official ``kubernetes`` Python client against kubetui's API server.

The client is synchronous (urllib3), so each call runs in a worker thread
while the server keeps serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import pytest_asyncio
import urllib3
from kubernetes import client as k8s, watch as k8s_watch
from kubernetes.client.rest import ApiException

from kubetui.api.resources import resource_for
from tests.apiserver.test_http_support import start_cluster


def api_client(cluster) -> k8s.ApiClient:
    cfg = k8s.Configuration()
    cfg.host = cluster.server.url
    cfg.api_key = {"authorization": cluster.token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    ca = cluster.state_dir / "pki" / "ca.crt"
    cfg.ssl_ca_cert = str(ca)
    # reconnects during the restart test: retry refused connections briefly
    cfg.retries = urllib3.Retry(total=40, connect=40, backoff_factor=0.05, backoff_max=0.5)
    return k8s.ApiClient(cfg)


def dep_body(name: str, image: str = "nginx:1") -> dict:
    # like the Python client sends it: no apiVersion/kind
    return {"metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


@pytest_asyncio.fixture
async def cluster(tmp_path):
    c = await start_cluster(tmp_path, store_path=tmp_path / "store")
    yield c
    await c.stop()


async def test_crud_and_errors(cluster):
    apps = k8s.AppsV1Api(api_client(cluster))
    created = await asyncio.to_thread(apps.create_namespaced_deployment, "default", dep_body("pyd"))
    assert created.metadata.uid and created.kind == "Deployment"
    lst = await asyncio.to_thread(apps.list_namespaced_deployment, "default")
    assert [d.metadata.name for d in lst.items] == ["pyd"] and lst.metadata.resource_version

    with pytest.raises(ApiException) as exc:
        await asyncio.to_thread(apps.create_namespaced_deployment, "default", dep_body("pyd"))
    assert exc.value.status == 409
    status = json.loads(exc.value.body)
    assert status["kind"] == "Status" and status["reason"] == "AlreadyExists"
    assert status["message"] == 'deployments.apps "pyd" already exists'

    body = created.to_dict()
    fresh = await asyncio.to_thread(apps.read_namespaced_deployment, "pyd", "default")
    fresh.spec.replicas = 3
    replaced = await asyncio.to_thread(apps.replace_namespaced_deployment, "pyd", "default", fresh)
    assert replaced.spec.replicas == 3
    # a stale resourceVersion is a 409 Conflict
    stale = k8s.ApiClient().sanitize_for_serialization(fresh)
    with pytest.raises(ApiException) as exc:
        await asyncio.to_thread(apps.replace_namespaced_deployment, "pyd", "default", stale)
    assert exc.value.status == 409 and json.loads(exc.value.body)["reason"] == "Conflict"
    assert body["metadata"]["name"] == "pyd"

    patched = await asyncio.to_thread(apps.patch_namespaced_deployment, "pyd", "default",
                                      {"metadata": {"labels": {"team": "a"}}})
    assert patched.metadata.labels == {"team": "a"}

    await asyncio.to_thread(apps.delete_namespaced_deployment, "pyd", "default")
    with pytest.raises(ApiException) as exc:
        await asyncio.to_thread(apps.read_namespaced_deployment, "pyd", "default")
    assert exc.value.status == 404
    assert json.loads(exc.value.body)["message"] == 'deployments.apps "pyd" not found'


async def test_watch_in_order_and_resumes_after_restart(cluster, tmp_path):
    core = k8s.CoreV1Api(api_client(cluster))
    seen: list[tuple[str, str]] = []
    want = {("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a"), ("ADDED", "b")}
    stop = threading.Event()
    changed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def watch_thread() -> None:
        w = k8s_watch.Watch()
        for ev in w.stream(core.list_namespaced_pod, "default", _request_timeout=30):
            seen.append((ev["type"], ev["object"].metadata.name))
            loop.call_soon_threadsafe(changed.set)
            if want <= set(seen) or stop.is_set():
                w.stop()

    async def until(pred) -> None:
        for _ in range(200):
            if pred():
                return
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
        raise AssertionError(f"watch saw only {seen}")

    t = asyncio.create_task(asyncio.to_thread(watch_thread))
    try:
        pods = resource_for("pods")
        pod = {"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
        await cluster.registry.create(pods, "default", pod)
        await until(lambda: ("ADDED", "a") in seen)
        await cluster.registry.patch(pods, "default", "a", b'{"metadata":{"labels":{"x":"1"}}}',
                                     "application/merge-patch+json")
        await cluster.registry.delete(pods, "default", "a")
        await until(lambda: ("DELETED", "a") in seen)

        # restart the server on the same port and store file: the client reconnects
        port = cluster.server.port
        await cluster.stop()
        fresh = await start_cluster(cluster.state_dir, store_path=tmp_path / "store", port=port)
        cluster.server, cluster.registry, cluster.store = fresh.server, fresh.registry, fresh.store
        await cluster.registry.create(pods, "default", {**pod, "metadata": {"name": "b"}})
        await until(lambda: ("ADDED", "b") in seen)
    finally:
        stop.set()
        await asyncio.wait_for(t, 30)
    a_events = [e for e in seen if e[1] == "a"]
    assert a_events == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    assert seen.count(("ADDED", "b")) == 1
