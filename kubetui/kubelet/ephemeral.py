"""Ephemeral containers on the node: what ``kubectl debug POD --image=…`` starts in a running pod.

Upstream: ``pkg/kubelet/kuberuntime/kuberuntime_manager.go`` (``computePodActions``:
``EphemeralContainersToStart`` holds every ephemeral container the runtime has
never seen; ``SyncPod`` starts them last, in the pod's existing sandbox, so
they share its network, IPC and UTS namespaces and its volumes) and
``kubelet_pods.go`` (``ephemeralContainerStatuses``). An ephemeral container
runs once: it is never restarted, whatever the pod's ``restartPolicy``, and
it never makes a pod Ready or keeps a finished one alive. With
``targetContainerName`` it joins that container's PID namespace
(``cri.ContainerConfig.target_container_id``), so ``ps`` in it shows the
target's processes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubetui.kubelet.podworker import PodWorker


def to_start(worker: "PodWorker") -> list[dict]:
    """The pod's ephemeral containers that were never created (each is tried until it is, then never again).

    One the API server already reports with a container ID ran before this worker
    existed (the kubelet restarted): it is not run a second time.
    """
    if worker.sandbox is None or worker.terminal or worker.terminating:
        return []
    prior = {s.get("name"): s for s in (worker.pod.get("status") or {}).get("ephemeralContainerStatuses") or []}
    out = []
    for c in worker.spec.get("ephemeralContainers") or []:
        rec = worker.records.get(c["name"])
        if rec is None and (prior.get(c["name"]) or {}).get("containerID"):
            continue
        if rec is None or (rec.cid is None and rec.waiting is None):
            out.append(c)
    return out


async def start_new(worker: "PodWorker", pod_done: bool) -> None:
    """Start what ``to_start`` finds (upstream ``SyncPod`` step 7), unless the pod is finishing."""
    from kubetui.kubelet.podworker import ContainerRecord
    for c in [] if pod_done else to_start(worker):
        await worker._start(worker.records.setdefault(c["name"], ContainerRecord(c["name"], False)), c)


def target_id(worker: "PodWorker", container: dict) -> str:
    """The runtime's id of the container whose PID namespace ``container`` joins ("" for none)."""
    target = container.get("targetContainerName")
    if not target or not any(c.get("name") == container.get("name")
                             for c in worker.spec.get("ephemeralContainers") or []):
        return ""
    rec = worker.records.get(target)
    return (rec.cid or "") if rec is not None else ""


def status_fields(worker: "PodWorker") -> dict:
    """``status.ephemeralContainerStatuses`` (when the pod has any): like any container's, never
    ready, never restarted."""
    if not worker.spec.get("ephemeralContainers"):
        return {}
    out = []
    for c in worker.spec.get("ephemeralContainers") or []:
        rec = worker.records.get(c["name"])
        if rec is None:
            out.append({"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
                        "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}},
                        "lastState": {}})
            continue
        st = worker.container_status(rec, c, False)
        st["ready"] = False
        st.pop("started", None)
        out.append(st)
    return {"ephemeralContainerStatuses": out}
