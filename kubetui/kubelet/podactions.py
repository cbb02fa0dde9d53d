"""What the kubelet does next for one pod, decided from what runs now (upstream:
``pkg/kubelet/kuberuntime/kuberuntime_manager.go`` ``computePodActions`` returning ``podActions``, and
``kuberuntime_container.go`` ``computeInitContainerActions``).

A pure function: the pod, the runtime's view of each container's current
attempt, the probe results, the restart backoff and the time in; a
``PodActions`` value out, which the pod worker then executes (``SyncPod``:
kill what must die, create the sandbox, start init containers, start
containers). Keeping the decision apart makes it printable ("the kubelet
decided: restart container app, reason: liveness probe failed") and
table-testable with a fake clock, as upstream's ``TestComputePodActions`` is.

The rules, as upstream:

- no sandbox yet: create it, then start the first init container (or every
  container when there is none);
- init containers run one at a time, in order; a failed one is restarted
  unless ``restartPolicy: Never``, where it fails the pod (``KillPod``);
- an init container with ``restartPolicy: Always`` is a **sidecar**: it is
  started in order, the next one starts once it has *started* (its startup
  probe passed), and it is kept running (and restarted) for the pod's whole
  life; sidecars never keep a finished pod alive;
- a running container whose spec changed (its hash, upstream's
  ``io.kubernetes.container.hash`` label) is killed and started again,
  whatever the restart policy; one whose liveness probe failed (or whose
  startup probe failed ``failureThreshold`` times) is killed, and started
  again unless ``restartPolicy: Never``;
- an exited container is started again if the policy says so (``Always``;
  ``OnFailure`` after a non-zero exit), but not before its CrashLoopBackOff
  delay has passed: until then it is ``backing_off`` (upstream checks
  ``doBackOff`` when it starts the container; deciding it here lets the
  worker say so and sleep until then);
- when nothing runs and nothing is to start, the pod is done: ``kill_pod``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubetui.runtime.cri import EXITED, RUNNING

Obj = dict[str, Any]

#: the kill reasons upstream records (``containerKillReason``): they pick the grace period
REASON_LIVENESS = "LivenessProbe"
REASON_STARTUP = "StartupProbe"
REASON_SPEC_CHANGED = ""


def container_hash(container: Obj) -> str:
    """The hash of a container's spec, as recorded on the container when it is created.

    Upstream (``kubecontainer.HashContainer``) leaves ``resources`` out, since
    they may be resized in place without a restart.
    """
    spec = {k: v for k, v in container.items() if k != "resources"}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def is_sidecar(container: Obj) -> bool:
    """An init container with ``restartPolicy: Always`` (upstream ``IsRestartableInitContainer``)."""
    return container.get("restartPolicy") == "Always"


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


@dataclass(frozen=True)
class ContainerState:
    """The runtime's view of a container's current attempt (upstream ``kubecontainer.Status``)."""

    id: str
    state: str                  # cri RUNNING / EXITED / CREATED
    exit_code: int = 0
    finished_at: float = 0.0
    hash: str = ""              # container_hash() of the spec it was created from


@dataclass(frozen=True)
class ProbeResults:
    """The probe results of one running container (upstream's liveness/startup managers)."""

    liveness: bool = True       # upstream's initial result: alive until proven dead
    startup: bool = True        # True when the container has no startup probe
    startup_failed: bool = False  # the startup probe failed failureThreshold times: kill it


class BackoffView(Protocol):
    def remaining(self, key: str, event_time: float, now: float | None = None) -> float: ...


@dataclass(frozen=True)
class ToKill:
    """A container to kill (upstream ``containerToKillInfo``)."""

    container_id: str
    init: bool
    message: str
    reason: str = ""


@dataclass
class PodActions:
    """What to do for one pod (upstream ``podActions``); empty means "leave it as it is"."""

    kill_pod: bool = False
    create_sandbox: bool = False
    init_containers_to_start: list[str] = field(default_factory=list)
    containers_to_start: list[str] = field(default_factory=list)
    containers_to_kill: dict[str, ToKill] = field(default_factory=dict)
    #: containers that should start again but wait for their CrashLoopBackOff: name -> seconds left
    backing_off: dict[str, float] = field(default_factory=dict)

    def describe(self) -> list[str]:
        """The decision in words, one line each (logs, and what a learner is shown)."""
        out = []
        if self.kill_pod:
            out.append("kill the pod: nothing runs and nothing is to start")
        if self.create_sandbox:
            out.append("create the pod sandbox")
        for name, k in self.containers_to_kill.items():
            out.append(f"kill container {name}: {k.message}")
        for name in self.init_containers_to_start:
            out.append(f"start init container {name}")
        for name in self.containers_to_start:
            out.append(f"start container {name}")
        for name, left in self.backing_off.items():
            out.append(f"restart container {name} after its back-off ({left:.1f}s)")
        return out


def compute_pod_actions(pod: Obj, statuses: dict[str, ContainerState | None],
                        probes: dict[str, ProbeResults], backoff: BackoffView, now: float, *,
                        has_sandbox: bool = True) -> PodActions:
    """Decide the next step for ``pod`` from its containers' current attempts (``statuses`` by name)."""
    spec = pod.get("spec") or {}
    uid = (pod.get("metadata") or {}).get("uid", "")
    policy = spec.get("restartPolicy", "Always")
    actions = PodActions()
    if not has_sandbox:
        # Everything starts from the beginning: the first init container, or every container.
        actions.create_sandbox = True
        statuses = {}

    def restart(name: str, st: ContainerState, into: list[str]) -> None:
        """Start ``name`` again now, or record how long its back-off still runs."""
        left = backoff.remaining(f"{uid}/{name}", st.finished_at, now)
        if left > 0:
            actions.backing_off[name] = left
        else:
            into.append(name)

    def kill_reason(c: Obj, st: ContainerState, init: bool) -> tuple[str, str] | None:
        """(message, reason) if a running container must be killed, else None."""
        what = "Init container" if init else "Container"
        if st.hash and st.hash != container_hash(c):
            return f"{what} {c['name']} definition changed", REASON_SPEC_CHANGED
        results = probes.get(c["name"], ProbeResults())
        if not results.liveness:
            return f"{what} {c['name']} failed liveness probe", REASON_LIVENESS
        if results.startup_failed:
            return f"{what} {c['name']} failed startup probe", REASON_STARTUP
        return None

    if not _init_actions(spec, statuses, probes, actions, restart, kill_reason, now):
        return actions

    keep = 0
    main_backing_off = False
    for c in spec.get("containers") or []:
        name = c["name"]
        st = statuses.get(name)
        if st is None:
            actions.containers_to_start.append(name)
        elif st.state == RUNNING:
            why = kill_reason(c, st, False)
            if why is None:
                keep += 1
                continue
            message, reason = why
            # A changed spec restarts whatever the policy; a failed probe unless Never.
            if reason == REASON_SPEC_CHANGED or policy != "Never":
                message += ", will be restarted"
                restart(name, _killed_now(st, now), actions.containers_to_start)
                main_backing_off = main_backing_off or name in actions.backing_off
            actions.containers_to_kill[name] = ToKill(st.id, False, message, reason)
        elif st.state == EXITED and should_restart(policy, st.exit_code):
            restart(name, st, actions.containers_to_start)
            main_backing_off = main_backing_off or name in actions.backing_off
    if keep == 0 and not actions.containers_to_start and not main_backing_off:
        actions.kill_pod = True
        # Sidecars never keep a finished pod alive: none is started again.
        for name in actions.init_containers_to_start:
            actions.backing_off.pop(name, None)
        actions.init_containers_to_start = []
    return actions


def _killed_now(st: ContainerState, now: float) -> ContainerState:
    """A running container about to be killed, as if it had just exited: its restart waits out its back-off."""
    return ContainerState(st.id, EXITED, 137, now, st.hash)


def _init_actions(spec: Obj, statuses: dict[str, ContainerState | None], probes: dict[str, ProbeResults],
                  actions: PodActions, restart, kill_reason, now: float) -> bool:
    """Init containers' actions (upstream ``computeInitContainerActions``); True once the pod is initialized."""
    policy = spec.get("restartPolicy", "Always")
    # A main container that ran means initialization was done before: only sidecars still matter.
    initialized = any((statuses.get(c["name"]) is not None) for c in spec.get("containers") or [])
    for c in spec.get("initContainers") or []:
        name = c["name"]
        st = statuses.get(name)
        if is_sidecar(c):
            if st is None or st.state not in (RUNNING, EXITED):
                actions.init_containers_to_start.append(name)
            elif st.state == EXITED:
                restart(name, st, actions.init_containers_to_start)      # whatever the pod's policy
            else:
                why = kill_reason(c, st, True)
                if why is not None:
                    actions.containers_to_kill[name] = ToKill(st.id, True, *why)
                    restart(name, _killed_now(st, now), actions.init_containers_to_start)
                elif probes.get(name, ProbeResults()).startup:
                    continue                       # started: the next init container may start
            if not initialized:
                return False                       # wait for this sidecar to start
            continue
        if initialized:
            continue
        if st is None or st.state not in (RUNNING, EXITED):
            actions.init_containers_to_start.append(name)
            return False
        if st.state == EXITED and st.exit_code == 0:
            continue
        if st.state == EXITED:
            if policy == "Never":
                actions.kill_pod = True            # a failed init container fails the pod
            else:
                restart(name, st, actions.init_containers_to_start)
        return False                               # running (or just failed): wait for it
    return True
