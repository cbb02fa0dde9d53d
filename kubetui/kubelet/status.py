"""Pod phase and conditions, computed from container statuses (upstream: ``pkg/kubelet/kubelet_pods.go``
``getPhase`` and ``pkg/kubelet/status/generate.go``).

Pure functions over Kubernetes-shaped dicts, so a learner can read exactly
why a pod is ``Pending`` or not ``Ready``, and tests can tabulate the cases.
"""

from __future__ import annotations

from typing import Any

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"

# conditions the kubelet owns (PodScheduled belongs to the scheduler, others to whoever set them)
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")


def _by_name(statuses: list[dict]) -> dict[str, dict]:
    return {s["name"]: s for s in statuses}


def _sidecar(c: dict) -> bool:
    """A restartable init container (``restartPolicy: Always``): it keeps running beside the others."""
    return c.get("restartPolicy") == "Always"


def pod_phase(spec: dict, init_statuses: list[dict], statuses: list[dict]) -> str:
    """The pod's phase from its containers, as the kubelet's ``getPhase`` decides it.

    Example: one container waiting in CrashLoopBackOff after exiting 1, with
    ``restartPolicy: Always``, counts as *stopped*; nothing runs, so the
    phase is ``Running`` (the kubelet will restart it), not ``Failed``.
    """
    restart = spec.get("restartPolicy", "Always")
    pending_init = failed_init = 0
    inits = _by_name(init_statuses)
    for c in spec.get("initContainers") or []:
        if _sidecar(c):
            continue                           # counted with the running containers below
        st = inits.get(c["name"])
        state = (st or {}).get("state") or {}
        last = ((st or {}).get("lastState") or {}).get("terminated")
        if st is None or "running" in state:
            pending_init += 1
        elif "terminated" in state:
            if state["terminated"].get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in state:
            if last is not None:
                if last.get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1

    unknown = running = waiting = stopped = succeeded = 0
    # Sidecars (restartable init containers): a running one counts as running (pending until it
    # has started); a terminated one does not count at all, so it never makes a pod fail or succeed.
    for c in spec.get("initContainers") or []:
        if not _sidecar(c):
            continue
        st = inits.get(c["name"])
        state = (st or {}).get("state") or {}
        if st is None:
            unknown += 1
        elif "running" in state:
            running += 1
            if not st.get("started"):
                pending_init += 1
        elif "waiting" in state and not ((st.get("lastState") or {}).get("terminated")):
            pending_init += 1
            waiting += 1
    mains = _by_name(statuses)
    for c in spec.get("containers") or []:
        st = mains.get(c["name"])
        state = (st or {}).get("state") or {}
        if st is None:
            unknown += 1
        elif "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        elif "waiting" in state:
            if ((st.get("lastState") or {}).get("terminated")) is not None:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_init and restart == "Never":
        return FAILED
    main_started = any("running" in (st.get("state") or {}) or "terminated" in (st.get("state") or {})
                       or (st.get("lastState") or {}).get("terminated") for st in statuses)
    if (pending_init and not main_started) or waiting:
        return PENDING
    if running and not unknown:
        return RUNNING
    if not running and stopped and not unknown:
        if restart == "Always":
            return RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        if restart == "Never":
            return FAILED
        return RUNNING
    return PENDING


def _cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> dict:
    c: dict[str, Any] = {"type": ctype, "status": "True" if ok else "False"}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def pod_conditions(spec: dict, phase: str, init_statuses: list[dict], statuses: list[dict],
                   sandbox_ready: bool) -> list[dict]:
    """The kubelet-owned conditions (without timestamps; ``merge_conditions`` adds them)."""
    conds = [_cond("PodReadyToStartContainers", sandbox_ready)]

    inits = _by_name(init_statuses)
    incomplete = []
    for c in spec.get("initContainers") or []:
        st = inits.get(c["name"]) or {}
        if _sidecar(c):
            done = bool(st.get("started"))          # a sidecar has done its part once it has started
        else:
            term = (st.get("state") or {}).get("terminated")
            done = bool(term) and term.get("exitCode", 0) == 0
        if not done:
            incomplete.append(c["name"])
    if incomplete and phase not in (SUCCEEDED,):
        conds.append(_cond("Initialized", False, "ContainersNotInitialized",
                           f"containers with incomplete status: [{' '.join(incomplete)}]"))
    else:
        conds.append(_cond("Initialized", True))

    # Sidecars count for readiness like containers do (upstream GenerateContainersReadyCondition).
    mains = {**{n: st for n, st in inits.items()}, **_by_name(statuses)}
    ready_for = [c for c in spec.get("initContainers") or [] if _sidecar(c)] + (spec.get("containers") or [])
    unknown = [c["name"] for c in ready_for if c["name"] not in mains]
    unready = [c["name"] for c in ready_for if c["name"] in mains and not mains[c["name"]].get("ready")]
    if phase == SUCCEEDED:
        ready = (False, "PodCompleted", "")
    elif unknown or unready:
        parts = []
        if unknown:
            parts.append(f"containers with unknown status: [{' '.join(unknown)}]")
        if unready:
            parts.append(f"containers with unready status: [{' '.join(unready)}]")
        ready = (False, "ContainersNotReady", ", ".join(parts))
    else:
        ready = (True, "", "")
    conds.append(_cond("ContainersReady", *ready))
    conds.append(_cond("Ready", *ready))
    return conds


def merge_conditions(old: list[dict], new: list[dict], now: str) -> list[dict]:
    """Keep conditions the kubelet does not own; keep ``lastTransitionTime`` when the status holds."""
    previous = {c.get("type"): c for c in old or []}
    out = [c for c in old or [] if c.get("type") not in KUBELET_CONDITIONS]
    for c in new:
        prev = previous.get(c["type"])
        c = dict(c)
        c["lastProbeTime"] = None
        if prev and prev.get("status") == c["status"] and prev.get("lastTransitionTime"):
            c["lastTransitionTime"] = prev["lastTransitionTime"]
        else:
            c["lastTransitionTime"] = now
        out.append(c)
    order = {"PodReadyToStartContainers": 0, "Initialized": 1, "Ready": 2, "ContainersReady": 3,
             "PodScheduled": 4}
    return sorted(out, key=lambda c: order.get(c.get("type"), 9))


def is_ready(status: dict) -> bool:
    """The status says the pod is Ready (its ``Ready`` condition is ``True``)."""
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def qos_class(spec: dict) -> str:
    """Guaranteed / Burstable / BestEffort (upstream ``pkg/apis/core/helper/qos``)."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or str(req.get(r, lim[r])) != str(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
