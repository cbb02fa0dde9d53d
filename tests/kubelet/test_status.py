"""Pod phase and conditions, table-tested against upstream's getPhase rules."""

import pytest

from kubetui.kubelet import status as s


def run():
    return {"running": {"startedAt": "t"}}


def term(code):
    return {"terminated": {"exitCode": code}}


def wait(reason="ContainerCreating"):
    return {"waiting": {"reason": reason}}


def cs(name, state, last=None, ready=False):
    return {"name": name, "state": state, "lastState": last or {}, "ready": ready}


def spec(policy="Always", containers=("a",), inits=()):
    return {"restartPolicy": policy, "containers": [{"name": n} for n in containers],
            "initContainers": [{"name": n} for n in inits]}


@pytest.mark.parametrize("policy,inits,init_st,main_st,phase", [
    ("Always", (), [], [cs("a", wait())], "Pending"),
    ("Always", (), [], [cs("a", run())], "Running"),
    ("Always", (), [], [], "Pending"),                                   # no status yet
    # crashed and waiting to restart: counts as stopped, not waiting
    ("Always", (), [], [cs("a", wait("CrashLoopBackOff"), {"terminated": {"exitCode": 1}})], "Running"),
    ("Never", (), [], [cs("a", term(0))], "Succeeded"),
    ("Never", (), [], [cs("a", term(1))], "Failed"),
    ("OnFailure", (), [], [cs("a", term(0))], "Succeeded"),
    ("OnFailure", (), [], [cs("a", term(1))], "Running"),                # will be restarted
    ("Always", (), [], [cs("a", term(0))], "Running"),
    ("Always", ("i",), [cs("i", run())], [cs("a", wait("PodInitializing"))], "Pending"),
    ("Never", ("i",), [cs("i", term(1))], [cs("a", wait("PodInitializing"))], "Failed"),
    ("Always", ("i",), [cs("i", wait("CrashLoopBackOff"), {"terminated": {"exitCode": 1}})],
     [cs("a", wait("PodInitializing"))], "Pending"),
    ("Always", ("i",), [cs("i", term(0))], [cs("a", run())], "Running"),
])
def test_pod_phase(policy, inits, init_st, main_st, phase):
    assert s.pod_phase(spec(policy, inits=inits), init_st, main_st) == phase


def test_conditions_not_ready_and_initializing():
    sp = spec(containers=("a", "b"), inits=("i",))
    conds = {c["type"]: c for c in s.pod_conditions(
        sp, "Pending", [cs("i", run())], [cs("a", wait()), cs("b", wait())], True)}
    assert conds["Initialized"] == {"type": "Initialized", "status": "False",
                                    "reason": "ContainersNotInitialized",
                                    "message": "containers with incomplete status: [i]"}
    assert conds["Ready"]["message"] == "containers with unready status: [a b]"
    assert conds["PodReadyToStartContainers"]["status"] == "True"


def test_conditions_ready_and_completed():
    ok = {c["type"]: c["status"] for c in s.pod_conditions(spec(), "Running", [], [cs("a", run(), ready=True)], True)}
    assert ok == {"PodReadyToStartContainers": "True", "Initialized": "True", "ContainersReady": "True",
                  "Ready": "True"}
    done = {c["type"]: c for c in s.pod_conditions(spec("Never"), "Succeeded", [], [cs("a", term(0))], False)}
    assert done["Ready"]["reason"] == "PodCompleted"


def test_merge_keeps_scheduler_condition_and_transition_times():
    old = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "T0"},
           {"type": "Ready", "status": "False", "lastTransitionTime": "T1"},
           {"type": "Initialized", "status": "True", "lastTransitionTime": "T1"}]
    new = [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}]
    out = {c["type"]: c for c in s.merge_conditions(old, new, "T2")}
    assert out["PodScheduled"]["lastTransitionTime"] == "T0"
    assert out["Initialized"]["lastTransitionTime"] == "T1"     # unchanged status keeps its time
    assert out["Ready"]["lastTransitionTime"] == "T2"           # flipped now


@pytest.mark.parametrize("resources,qos", [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "64Mi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "500m"}}, "Burstable"),
])
def test_qos_class(resources, qos):
    assert s.qos_class({"containers": [{"name": "a", "resources": resources}]}) == qos


def sidecar_spec(policy="Always"):
    return {"restartPolicy": policy, "containers": [{"name": "a"}],
            "initContainers": [{"name": "side", "restartPolicy": "Always"}]}


def started(name, state, last=None, ready=False, is_started=True):
    return dict(cs(name, state, last, ready), started=is_started)


# upstream: TestPodPhaseWithRestartAlwaysRestartableInitContainers / ...RestartNever...
@pytest.mark.parametrize("policy,side,main,phase", [
    ("Always", [started("side", run(), is_started=False)], [cs("a", wait("PodInitializing"))], "Pending"),
    ("Always", [started("side", run())], [cs("a", wait("ContainerCreating"))], "Pending"),
    ("Always", [started("side", run())], [cs("a", run())], "Running"),
    # a restarting sidecar does not send an initialized pod back to Pending
    ("Always", [started("side", wait("CrashLoopBackOff"), {"terminated": {"exitCode": 1}}, is_started=False)],
     [cs("a", run())], "Running"),
    # a terminated sidecar is not counted: the pod's phase is its containers'
    ("OnFailure", [started("side", term(137))], [cs("a", term(0))], "Succeeded"),
    ("Never", [started("side", term(0))], [cs("a", term(1))], "Failed"),
    ("Never", [started("side", run())], [cs("a", term(0))], "Running"),
])
def test_pod_phase_with_sidecars(policy, side, main, phase):
    assert s.pod_phase(sidecar_spec(policy), side, main) == phase


def test_a_started_sidecar_counts_as_initialized_and_its_readiness_counts():
    conds = {c["type"]: c for c in s.pod_conditions(sidecar_spec(), "Running", [started("side", run())],
                                                      [cs("a", run(), ready=True)], True)}
    assert conds["Initialized"]["status"] == "True"
    assert conds["Ready"]["status"] == "False"
    assert conds["Ready"]["message"] == "containers with unready status: [side]"
    conds = {c["type"]: c for c in s.pod_conditions(sidecar_spec(), "Pending",
                                                      [started("side", run(), is_started=False)], [], True)}
    assert conds["Initialized"]["message"] == "containers with incomplete status: [side]"
