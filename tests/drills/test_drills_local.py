"""Drills on one local-provider cluster shared by the module (`kubetui up --headless` in a subprocess).

``kubetui drill test`` self-tests every local drill on it, each in its own
namespace (the fault breaks the service, the wrong mitigations do not count,
the reference one does); the learner's commands (status, hint, answer,
give-up, report) run as a learner would, with the real kubectl.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest

from kubetui.drills.format import incident, load_all
from tests.nodes.conftest import start_headless
from tests.test_cluster import stop


def drain(proc: subprocess.Popen) -> None:
    """Keep reading the control plane's pipes: a full pipe would block its logging, and so the API server."""
    import threading
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            threading.Thread(target=lambda s=stream: [None for _ in iter(s.readline, "")], daemon=True).start()

pytestmark = pytest.mark.slow

LOCAL = [d for d in load_all() if "docker" not in d.requires]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp("drills") / "state"
    proc, kubeconfig = start_headless(state, "--provider", "local", "--nodes", "2", "--name",
                                      f"drills-{uuid.uuid4().hex[:6]}", "--api-port", "0")
    drain(proc)
    try:
        yield state, kubeconfig
    finally:
        try:
            stop(proc)
        finally:        # whatever happened to the control plane, its local kubelets and pods go too
            subprocess.run([sys.executable, "-m", "kubetui", "down", "--state-dir", str(state)],
                           capture_output=True, text=True, timeout=120)


def drill(state, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kubetui", "drill", *args, "--state-dir", str(state),
                           "--learner", "ada"], capture_output=True, text=True, timeout=timeout)


def kubectl(kubectl_bin, kubeconfig, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([kubectl_bin, f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True,
                          timeout=60)


def test_a_learner_mitigates_diagnoses_and_reads_the_report(cluster, kubectl_bin):
    state, kubeconfig = cluster
    r = drill(state, "start", "service-selector-typo", "--seed", "5")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "seed 5" in r.stdout
    ns = "drill-service-selector-typo"
    inc = incident(next(d for d in LOCAL if d.id == "service-selector-typo"), 5)
    # the seeded incident is the one on the cluster: that Service, that typo
    svc = json.loads(kubectl(kubectl_bin, kubeconfig, "-n", ns, "get", "svc", inc.target, "-o", "json").stdout)
    assert svc["spec"]["selector"] == {"app": inc.params["typo"]}

    r = drill(state, "status")
    assert r.returncode == 1 and "not mitigated" in r.stdout, r.stdout + r.stderr
    r = drill(state, "hint")
    assert r.returncode == 0 and "hint 1/" in r.stdout and ns in r.stdout
    # the learner's own kubectl: look, then fix the selector
    assert kubectl(kubectl_bin, kubeconfig, "-n", ns, "get", "endpointslices").returncode == 0
    fix = kubectl(kubectl_bin, kubeconfig, "-n", ns, "patch", "svc", inc.target, "-p",
                  json.dumps({"spec": {"selector": {"app": inc.target}}}))
    assert fix.returncode == 0, fix.stderr
    deadline = time.monotonic() + 90
    while True:
        r = drill(state, "status")
        if r.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.returncode == 0 and "MITIGATED" in r.stdout, r.stdout + r.stderr
    r = drill(state, "answer", "the", "pods", "crashed")
    assert r.returncode == 1 and "Not that" in r.stdout
    r = drill(state, "answer", "the Service selector does not match the labels")
    assert r.returncode == 0 and "Right" in r.stdout and "drill is over" in r.stdout
    time.sleep(0.5)                     # the audit log is flushed every 0.2 s
    r = drill(state, "report")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"Root cause" in out and "hygiene            15" in out and "diagnosis          15" in out
    assert "hints              -5" in out
    assert f"fault   patch services/{inc.target} -n {ns}" in out
    assert f"you     patch services/{inc.target} -n {ns} (200)" in out
    assert "you     list endpointslices" in out
    # the runner's own reads and writes (kubetui:drill) are not the learner's
    assert "you     get pods/prober" not in out and "you     create namespaces" not in out

    # the same drill again: a give-up ends it with the answer and a mitigation that works
    r = drill(state, "start", "service-selector-typo", "--seed", "5")
    assert r.returncode == 0, r.stderr[-2000:]
    r = drill(state, "give-up")
    assert r.returncode == 0, r.stderr
    assert "(gave up)" in r.stdout and "A mitigation that works:" in r.stdout
    assert f"kubectl -n {ns} patch service {inc.target}" in r.stdout
    r = drill(state, "answer", "selector")
    assert r.returncode == 1 and "gave up" in r.stderr
    r = drill(state, "clean")
    assert r.returncode == 0 and ns in r.stdout
    r = drill(state, "status")
    assert r.returncode == 1 and "no drill is running" in r.stderr


def test_every_local_drill_passes_its_selftest(cluster):
    state, _ = cluster
    # every shared drill at once (each in its own namespace; they mostly wait), then the exclusive ones alone
    r = drill(state, "test", "--parallel", str(len(LOCAL)), timeout=900)
    assert f"{len(LOCAL)} passed, 0 failed" in r.stdout, r.stdout + r.stderr[-3000:]
    assert r.returncode == 0


def test_the_simulated_provider_cannot_run_drills(tmp_path):
    from kubetui.cluster import ClusterSettings
    ClusterSettings(name="sim", provider="simulated").save(tmp_path)
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    r = drill(tmp_path, "start", "bad-image-tag")
    assert r.returncode == 1 and "simulated nodes run no containers" in r.stderr
