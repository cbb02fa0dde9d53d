"""The pod printer: READY, STATUS, RESTARTS as ``kubectl get pods`` shows them.

Upstream: ``printPod`` in ``pkg/printers/internalversion/printers.go``. STATUS is
the pod's phase (or ``status.reason``), overridden by what a learner needs to
see first: ``SchedulingGated``, an init container's progress (``Init:1/2``,
``Init:CrashLoopBackOff``), a container's waiting or terminated reason
(``ContainerCreating``, ``CrashLoopBackOff``, ``OOMKilled``, ``Completed``),
``Terminating`` once deletion started (unless the pod already finished), and
``Unknown`` when its node was lost. Sidecars (init containers with
``restartPolicy: Always``) count towards READY once started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetui.api.printers.common import AGE_COL, NAME_COL, age, col, human_duration, parse_time

POD_COLUMNS = [
    NAME_COL,
    col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
    col("Status", desc="The aggregate status of the containers in this pod."),
    col("Restarts", desc="The number of times the containers in this pod have been restarted "
                         "and when the last container in this pod has restarted."),
    AGE_COL,
    col("IP", priority=1, desc="IP address allocated to the pod. Routable at least within the cluster."),
    col("Node", priority=1, desc="NodeName is a request to schedule this pod onto a specific node."),
    col("Nominated Node", priority=1, desc="nominatedNodeName is set when this pod preempts other pods "
                                           "on the node."),
    col("Readiness Gates", priority=1, desc="If specified, all readiness gates will be evaluated for "
                                            "pod readiness."),
]

#: ``podSuccessConditions`` / ``podFailedConditions``: kubectl marks finished pods' rows.
POD_SUCCESS_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                           "message": "The pod has completed successfully."}]
POD_FAILED_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]

#: ``node.NodeUnreachablePodReason``: the node lifecycle controller's reason for pods on a lost node.
NODE_UNREACHABLE_REASON = "NodeLost"


@dataclass(frozen=True)
class PodStatus:
    """printPod's computed cells before formatting."""

    reason: str          # the STATUS column
    ready: int           # ready containers (sidecars included once started)
    total: int           # containers + sidecars
    restarts: int
    last_restart: float | None  # epoch seconds of the latest restart, None if unknown

    def ready_text(self) -> str:
        return f"{self.ready}/{self.total}"

    def restarts_text(self, now: float) -> str:
        """``3`` or ``3 (12s ago)``."""
        if self.restarts and self.last_restart is not None:
            return f"{self.restarts} ({human_duration(now - self.last_restart)} ago)"
        return str(self.restarts)


def _is_restartable_init(c: dict | None) -> bool:
    """``podutil.IsRestartableInitContainer``: a sidecar."""
    return bool(c) and c.get("restartPolicy") == "Always"


def _condition_true(status: dict, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or [])


def _finished_at(cs: dict) -> float | None:
    term = (cs.get("lastState") or {}).get("terminated")
    return parse_time(term.get("finishedAt")) if term else None


def _later(a: float | None, b: float | None) -> float | None:
    if b is None:
        return a
    return b if a is None or b > a else a


def pod_status(pod: dict) -> PodStatus:
    """Compute READY, STATUS and RESTARTS exactly as upstream's ``printPod``."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    meta = pod.get("metadata") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    n_init = len(spec.get("initContainers") or [])
    total = len(spec.get("containers") or []) + sum(
        1 for c in spec.get("initContainers") or [] if _is_restartable_init(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        fin = _finished_at(cs)
        last_restart = _later(last_restart, fin)
        sidecar = _is_restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            last_sidecar_restart = _later(last_sidecar_restart, fin)
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if term is not None:  # initialization failed
            if not term.get("reason"):
                reason = (f"Init:Signal:{term['signal']}" if term.get("signal")
                          else f"Init:ExitCode:{int(term.get('exitCode') or 0)}")
            else:
                reason = "Init:" + term["reason"]
        elif wait is not None and wait.get("reason") and wait.get("reason") != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = _later(last_restart, _finished_at(cs))
            state = cs.get("state") or {}
            wait, term = state.get("waiting"), state.get("terminated")
            if wait is not None and wait.get("reason"):
                reason = wait["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                reason = (f"Signal:{term['signal']}" if term.get("signal")
                          else f"ExitCode:{int(term.get('exitCode') or 0)}")
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # a container still runs: the pod is not Completed, whatever the last one says
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == NODE_UNREACHABLE_REASON:
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return PodStatus(reason, ready, total, restarts, last_restart)


def pod_status_reason(pod: dict) -> str:
    """The STATUS column alone."""
    return pod_status(pod).reason


def pod_row(pod: dict, now: float) -> list[Any]:
    st = pod_status(pod)
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    ips = status.get("podIPs") or []
    ip = (ips[0].get("ip") if ips else status.get("podIP")) or "<none>"
    gates = spec.get("readinessGates") or []
    gates_s = "<none>"
    if gates:
        conds: dict[str, str] = {}
        for c in status.get("conditions") or []:
            conds.setdefault(c.get("type"), c.get("status"))
        ok = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gates_s = f"{ok}/{len(gates)}"
    return [pod["metadata"].get("name", ""), st.ready_text(), st.reason, st.restarts_text(now), age(pod, now),
            ip, spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_s]


def pod_row_conditions(pod: dict) -> list[dict]:
    """The row's ``conditions``: ``Completed`` for a Succeeded or Failed pod."""
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return POD_SUCCESS_CONDITIONS
    if phase == "Failed":
        return POD_FAILED_CONDITIONS
    return []
