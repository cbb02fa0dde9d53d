"""The pod worker's decision, table-tested with a fake clock (kubetui/kubelet/podactions.py).

Ported from upstream's ``pkg/kubelet/kuberuntime/kuberuntime_manager_test.go``
(``TestComputePodActions``, ``TestComputePodActionsWithInitContainers``,
``TestComputePodActionsWithRestartableInitContainers``), on the same base pod:
three containers foo1..foo3 all running; and for init containers, three init
containers init1..init3 that all succeeded. kubetui's ``PodActions`` names
containers instead of indexes, and also decides the CrashLoopBackOff wait
(upstream checks it when ``SyncPod`` starts a container).
"""

from __future__ import annotations

import pytest

from kubetui.clock import FakeClock
from kubetui.kubelet.backoff import Backoff
from kubetui.kubelet.podactions import (ContainerState, PodActions, ProbeResults, ToKill, compute_pod_actions,
                                        container_hash)
from kubetui.runtime.cri import EXITED, RUNNING

NOW = 1_700_000_100.0
UID = "12345678"


def make_pod(restart="Always", containers=("foo1", "foo2", "foo3"), inits=(), sidecars=()):
    """``sidecars`` name init containers that are restartable (``restartPolicy: Always``)."""
    def c(name):
        out = {"name": name, "image": "busybox"}
        if name in sidecars:
            out["restartPolicy"] = "Always"
        return out
    return {"metadata": {"name": "foo", "namespace": "new", "uid": UID},
            "spec": {"restartPolicy": restart, "containers": [c(n) for n in containers],
                     "initContainers": [c(n) for n in inits]}}


def running(pod, name):
    spec = next(c for c in pod["spec"]["containers"] + pod["spec"]["initContainers"] if c["name"] == name)
    return ContainerState(f"id-{name}", RUNNING, hash=container_hash(spec))


def exited(pod, name, code=0, finished=NOW - 100):
    st = running(pod, name)
    return ContainerState(st.id, EXITED, code, finished, st.hash)


def base(pod):
    """Every container running, every (non-sidecar) init container succeeded, sidecars running."""
    out = {}
    for c in pod["spec"]["initContainers"]:
        out[c["name"]] = running(pod, c["name"]) if c.get("restartPolicy") == "Always" else exited(pod, c["name"])
    for c in pod["spec"]["containers"]:
        out[c["name"]] = running(pod, c["name"])
    return out


def decide(pod, statuses, probes=None, backoff=None, *, sandbox=True):
    return compute_pod_actions(pod, statuses, probes or {}, backoff or Backoff(10, 300, FakeClock(NOW)), NOW,
                               has_sandbox=sandbox)


def kills(actions: PodActions) -> dict[str, str]:
    return {name: k.container_id for name, k in actions.containers_to_kill.items()}


# -- TestComputePodActions --------------------------------------------------------------------------

def test_everything_is_good_do_nothing():
    pod = make_pod()
    assert decide(pod, base(pod)) == PodActions()


def test_start_pod_sandbox_and_all_containers_for_a_new_pod():
    pod = make_pod()
    assert decide(pod, {}, sandbox=False) == PodActions(create_sandbox=True,
                                                        containers_to_start=["foo1", "foo2", "foo3"])


@pytest.mark.parametrize("policy,to_start", [("Always", ["foo1", "foo2"]), ("OnFailure", ["foo2"]), ("Never", [])])
def test_restart_exited_containers_by_restart_policy(policy, to_start):
    # foo1 completed (exit 0), foo2 failed (exit 111), foo3 runs
    pod = make_pod(policy)
    st = base(pod) | {"foo1": exited(pod, "foo1", 0), "foo2": exited(pod, "foo2", 111)}
    assert decide(pod, st) == PodActions(containers_to_start=to_start)


def test_kill_and_recreate_the_container_if_its_spec_changed():
    pod = make_pod("Always")
    st = base(pod)
    pod["spec"]["containers"][1]["image"] = "busybox:1.37"           # kubectl set image
    a = decide(pod, st)
    assert kills(a) == {"foo2": "id-foo2"} and a.containers_to_start == ["foo2"] and not a.kill_pod
    assert a.containers_to_kill["foo2"].message == "Container foo2 definition changed, will be restarted"


def test_a_changed_spec_restarts_even_with_restart_policy_never():
    pod = make_pod("Never")
    st = base(pod)
    pod["spec"]["containers"][0]["image"] = "nginx"
    a = decide(pod, st)
    assert kills(a) == {"foo1": "id-foo1"} and a.containers_to_start == ["foo1"]


def test_resources_are_not_part_of_the_hash():
    pod = make_pod()
    st = base(pod)
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    assert decide(pod, st) == PodActions()


def test_kill_and_recreate_the_container_if_the_liveness_check_has_failed():
    pod = make_pod("Always")
    a = decide(pod, base(pod), {"foo2": ProbeResults(liveness=False)})
    assert a == PodActions(containers_to_start=["foo2"], containers_to_kill={
        "foo2": ToKill("id-foo2", False, "Container foo2 failed liveness probe, will be restarted", "LivenessProbe")})
    assert a.describe() == ["kill container foo2: Container foo2 failed liveness probe, will be restarted",
                            "start container foo2"]


def test_kill_and_recreate_the_container_if_the_startup_check_has_failed():
    pod = make_pod("Always")
    a = decide(pod, base(pod), {"foo2": ProbeResults(startup=False, startup_failed=True)})
    assert a == PodActions(containers_to_start=["foo2"], containers_to_kill={
        "foo2": ToKill("id-foo2", False, "Container foo2 failed startup probe, will be restarted", "StartupProbe")})
    # not started yet is not failed: wait
    assert decide(pod, base(pod), {"foo2": ProbeResults(startup=False)}) == PodActions()


def test_liveness_failure_with_restart_policy_never_kills_without_restart():
    pod = make_pod("Never", containers=("foo1",))
    a = decide(pod, base(pod), {"foo1": ProbeResults(liveness=False)})
    assert kills(a) == {"foo1": "id-foo1"} and a.containers_to_start == [] and a.kill_pod
    assert a.containers_to_kill["foo1"].message == "Container foo1 failed liveness probe"


@pytest.mark.parametrize("policy,code", [("Never", 0), ("Never", 1), ("OnFailure", 0)])
def test_all_containers_exited_and_none_to_restart_kills_the_pod(policy, code):
    pod = make_pod(policy)
    st = {n: exited(pod, n, code) for n in ("foo1", "foo2", "foo3")}
    assert decide(pod, st) == PodActions(kill_pod=True)


def test_a_container_never_created_is_started():
    pod = make_pod("Never")
    st = base(pod) | {"foo3": None}
    assert decide(pod, st) == PodActions(containers_to_start=["foo3"])


# -- backoff (upstream checks it in SyncPod's doBackOff; the fake clock stands still) -----------------

def test_crash_loop_backoff_waits_then_restarts():
    clock = FakeClock(NOW - 5)
    backoff = Backoff(10, 300, clock)
    pod = make_pod("Always", containers=("foo1",))
    backoff.next(f"{UID}/foo1", NOW - 5)             # restarted once already, 5 s ago; it died again just now
    st = {"foo1": exited(pod, "foo1", 1, finished=NOW - 2)}
    a = decide(pod, st, backoff=backoff)
    assert a.containers_to_start == [] and a.backing_off == {"foo1": pytest.approx(8.0)} and not a.kill_pod
    assert a.describe() == ["restart container foo1 after its back-off (8.0s)"]
    # 10 s after it exited, the back-off is over
    later = compute_pod_actions(pod, st, {}, backoff, NOW + 8, has_sandbox=True)
    assert later.containers_to_start == ["foo1"] and later.backing_off == {}


def test_a_liveness_kill_in_back_off_restarts_after_it():
    clock = FakeClock(NOW - 1)
    backoff = Backoff(10, 300, clock)
    backoff.next(f"{UID}/foo1", NOW - 1)
    pod = make_pod("Always", containers=("foo1",))
    a = decide(pod, base(pod), {"foo1": ProbeResults(liveness=False)}, backoff)
    assert kills(a) == {"foo1": "id-foo1"} and a.containers_to_start == [] and a.backing_off == {"foo1": 10.0}
    assert not a.kill_pod


# -- TestComputePodActionsWithInitContainers ----------------------------------------------------------

def init_pod(restart="Always"):
    return make_pod(restart, inits=("init1", "init2", "init3"))


def test_initialization_completed_start_all_containers():
    pod = init_pod()
    st = base(pod) | {"foo1": None, "foo2": None, "foo3": None}
    assert decide(pod, st) == PodActions(containers_to_start=["foo1", "foo2", "foo3"])


def test_no_init_containers_have_been_started_start_the_first_one():
    pod = init_pod()
    assert decide(pod, {}) == PodActions(init_containers_to_start=["init1"])
    assert decide(pod, {}, sandbox=False) == PodActions(create_sandbox=True, init_containers_to_start=["init1"])


def test_initialization_in_progress_do_nothing():
    pod = init_pod()
    st = {"init1": exited(pod, "init1"), "init2": exited(pod, "init2"), "init3": running(pod, "init3")}
    assert decide(pod, st) == PodActions()


@pytest.mark.parametrize("policy", ["Always", "OnFailure"])
def test_initialization_failed_restart_the_last_init_container(policy):
    pod = init_pod(policy)
    st = {"init1": exited(pod, "init1"), "init2": exited(pod, "init2"), "init3": exited(pod, "init3", 137)}
    assert decide(pod, st) == PodActions(init_containers_to_start=["init3"])


def test_initialization_failed_kill_pod_if_restart_policy_never():
    pod = init_pod("Never")
    st = {"init1": exited(pod, "init1"), "init2": exited(pod, "init2"), "init3": exited(pod, "init3", 137)}
    assert decide(pod, st) == PodActions(kill_pod=True)


def test_init_container_restart_waits_for_its_back_off():
    backoff = Backoff(10, 300, FakeClock(NOW))
    backoff.next(f"{UID}/init1", NOW)
    pod = init_pod("Always")
    st = {"init1": exited(pod, "init1", 1, finished=NOW - 3)}
    assert decide(pod, st, backoff=backoff) == PodActions(backing_off={"init1": 7.0})


# -- TestComputePodActionsWithRestartableInitContainers (sidecars) -------------------------------------

def sidecar_pod(restart="Always"):
    return make_pod(restart, inits=("sidecar", "init2"), sidecars=("sidecar",))


def test_sidecar_starts_first_then_the_next_init_container_once_it_has_started():
    pod = sidecar_pod()
    assert decide(pod, {}) == PodActions(init_containers_to_start=["sidecar"])
    st = {"sidecar": running(pod, "sidecar")}
    # a startup probe that has not passed yet holds the next init container back
    assert decide(pod, st, {"sidecar": ProbeResults(startup=False)}) == PodActions()
    assert decide(pod, st) == PodActions(init_containers_to_start=["init2"])


def test_sidecar_keeps_running_beside_the_containers():
    pod = sidecar_pod()
    st = {"sidecar": running(pod, "sidecar"), "init2": exited(pod, "init2")}
    assert decide(pod, st) == PodActions(containers_to_start=["foo1", "foo2", "foo3"])
    assert decide(pod, base(pod)) == PodActions()


@pytest.mark.parametrize("policy", ["Always", "OnFailure", "Never"])
def test_an_exited_sidecar_is_restarted_whatever_the_pods_policy(policy):
    pod = sidecar_pod(policy)
    st = base(pod) | {"sidecar": exited(pod, "sidecar", 1)}
    assert decide(pod, st) == PodActions(init_containers_to_start=["sidecar"])


def test_sidecar_failing_liveness_or_changed_is_restarted_and_the_containers_keep_running():
    pod = sidecar_pod()
    a = decide(pod, base(pod), {"sidecar": ProbeResults(liveness=False)})
    assert a == PodActions(init_containers_to_start=["sidecar"], containers_to_kill={
        "sidecar": ToKill("id-sidecar", True, "Init container sidecar failed liveness probe", "LivenessProbe")})
    st = base(pod)
    pod["spec"]["initContainers"][0]["image"] = "envoy"
    assert kills(decide(pod, st)) == {"sidecar": "id-sidecar"}


def test_sidecar_failing_its_startup_probe_is_restarted():
    pod = sidecar_pod()
    st = {"sidecar": running(pod, "sidecar")}
    a = decide(pod, st, {"sidecar": ProbeResults(startup=False, startup_failed=True)})
    assert a == PodActions(init_containers_to_start=["sidecar"], containers_to_kill={
        "sidecar": ToKill("id-sidecar", True, "Init container sidecar failed startup probe", "StartupProbe")})


def test_sidecars_never_keep_a_finished_pod_alive():
    pod = sidecar_pod("OnFailure")
    st = base(pod) | {n: exited(pod, n, 0) for n in ("foo1", "foo2", "foo3")}
    assert decide(pod, st) == PodActions(kill_pod=True)
    st["sidecar"] = exited(pod, "sidecar", 1)          # a crashed sidecar is not restarted either
    assert decide(pod, st) == PodActions(kill_pod=True)
