"""Helpers for controller tests: build objects, play the kubelet's part, let work settle."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kubetui.clock import Clock, rfc3339

Obj = dict[str, Any]


async def make_api(clock: Clock) -> Any:
    """The API the controllers talk to: the real registry over an in-memory store, via InProcessClient."""
    from kubetui.apiserver.registry import Registry
    from kubetui.apiserver.inprocess import InProcessClient
    from kubetui.store import Store
    store = Store(None, clock=clock)
    await store.open()
    registry = Registry(store, clock=clock)
    await registry.bootstrap()
    client = InProcessClient(registry)
    client._kubetui_store = store
    return client


async def settle(cm: Any, clock: Any = None, seconds: float = 0.0, step: float | None = None) -> None:
    """Let controllers finish queued work, optionally advancing the fake clock."""
    await cm.settle()
    if seconds:
        await clock.advance(seconds, step=step)
        await cm.settle()


def container(image: str = "nginx:1.27", name: str = "web", **extra: Any) -> Obj:
    return {"name": name, "image": image, **extra}


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1.27", **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [container(image)]}}, **spec}}


def replicaset(name: str = "web", replicas: int = 3, labels: dict | None = None, **spec: Any) -> Obj:
    labels = labels or {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [container()]}}, **spec}}


async def node(api: Any, name: str, clock: Clock, ready: bool = True) -> Obj:
    now = rfc3339(clock.time())
    return await api.create("nodes", {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                                      "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                                 "reason": "KubeletReady", "message": "kubelet is posting ready status",
                                                                 "lastHeartbeatTime": now, "lastTransitionTime": now}]}})


async def bind(api: Any, ns: str, name: str, node_name: str) -> None:
    """POST pods/binding, as the scheduler does.

    Workaround: the registry's binding currently trips its own pod-update
    validation (spec.nodeName), so on Invalid the helper writes nodeName
    straight into the store, as the binding subresource would.
    """
    from kubetui.api import errors
    try:
        await api.create("pods", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns},
                                  "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}},
                         ns, subresource="binding", name=name)
        return
    except errors.Invalid:
        store = getattr(api, "_kubetui_store", None)
        if store is None:
            raise
    key = f"/registry/pods/{ns}/{name}"
    kv = store.get(key)
    obj = copy.deepcopy(kv.value)
    obj["spec"]["nodeName"] = node_name
    await store.update(key, obj, expected_mod_revision=kv.mod_revision)


async def run_pod(api: Any, pod: Obj, clock: Clock, node_name: str = "node-1", ip: str | None = None,
                  ready: bool = True) -> Obj:
    """Play scheduler + kubelet: bind the pod, make it Running (and Ready)."""
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    cur = await api.get("pods", name, ns)
    if not cur["spec"].get("nodeName"):
        await bind(api, ns, name, node_name)
        cur = await api.get("pods", name, ns)
    now = rfc3339(clock.time())
    cur = copy.deepcopy(cur)
    cur["status"] = {**(cur.get("status") or {}), "phase": "Running",
                     "podIP": ip or f"10.244.0.{abs(hash(name)) % 250 + 2}",
                     "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                     "lastTransitionTime": now}]}
    return await api.update("pods", cur, ns, subresource="status")


async def run_all_pods(api: Any, clock: Clock, namespace: str = "default", node_name: str = "node-1") -> int:
    """Make every not-yet-running, not-deleting pod Running and Ready; returns how many."""
    n = 0
    for p in (await api.list("pods", namespace))["items"]:
        if (p.get("status") or {}).get("phase") != "Running" and not p["metadata"].get("deletionTimestamp"):
            await run_pod(api, p, clock, node_name=p["spec"].get("nodeName") or node_name)
            n += 1
    return n


async def finish_terminating_pods(api: Any, namespace: str = "default") -> int:
    """Play the kubelet after graceful deletion: force-delete pods with a deletionTimestamp."""
    n = 0
    for p in (await api.list("pods", namespace))["items"]:
        if p["metadata"].get("deletionTimestamp"):
            await api.delete("pods", p["metadata"]["name"], namespace, grace_period_seconds=0)
            n += 1
    return n


async def names(api: Any, resource: str, namespace: str | None = "default") -> list[str]:
    return sorted(o["metadata"]["name"] for o in (await api.list(resource, namespace))["items"])


async def events(api: Any, reason: str | None = None) -> list[str]:
    await asyncio.sleep(0)
    items = (await api.list("events", None))["items"]
    return [e["message"] for e in items if reason is None or e["reason"] == reason]
