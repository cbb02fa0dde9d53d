"""Declarative checks against a real in-process cluster: each kind passes and fails, with a diagnosis."""

from __future__ import annotations

import pytest

from kubetui.lessons.checks import compare, evaluate, first_failure
from kubetui.lessons.format import Check


@pytest.mark.parametrize("value,op,want,ok", [
    (3, "gte", 3, True), (2, "gte", 3, False), ("5", "equals", 5, True), ("True", "equals", True, True),
    ("False", "equals", True, False), ("500m", "lt", 1, True), ("2Gi", "gte", "1Gi", True),
    ("node-2", "matches", "^node-", True), (None, "matches", ".", False), (["a", "b"], "contains", "b", True),
    ("abc", "contains", "d", False), (None, "not_equals", None, False), ("x", "not_equals", None, True),
    ("abc", "gte", 1, False),
])
def test_compare(value, op, want, ok):
    assert compare(value, op, want) is ok


def c(check_kind: str, fail: str = "failed", **spec) -> Check:
    return Check(check_kind, spec, fail)


async def test_api_checks_pass_and_fail_with_observations(lab):
    client = lab.client
    await client.create("deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "kubetui/hello:1"}]}}}}, "default")
    await client.create("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                     "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
                        "default")
    ctx = lab.check_context()
    from kubetui.lessons.runner import wait_for_check
    ready = await wait_for_check(c("field", resource="deployments", name="web", path="{.status.readyReplicas}",
                                   equals=2), ctx, 20)
    assert ready.passed, ready.detail

    cases = [
        (c("exists", resource="deployments", name="web"), True, "deployments/web exists"),
        (c("exists", resource="deployments", name="nope"), False, "deployments/nope not found"),
        (c("exists", resource="deployments", name="nope", absent=True), True, "gone"),
        (c("field", resource="deployments", name="web", path=".spec.replicas", gte=3), False,
         ".spec.replicas is 2, want ≥ 3"),
        (c("field", resource="deployments", name="web", path=".spec.paused", equals=True), False, "is not set"),
        (c("count", resource="pods", selector="app=web", where=[{"path": ".status.phase", "equals": "Running"}],
           equals=2), True, "2 pods with app=web where .status.phase = Running"),
        (c("count", resource="pods", selector="app=nothing"), False, "0 pods with app=nothing (want ≥ 1)"),
        (c("count", resource="nodes", equals=3), True, "3 nodes"),
        (c("endpoints", service="web", ready_gte=2), True, "2 ready, 0 not ready"),
        (c("endpoints", service="web", ready=3), False, "want ready = 3"),
        (c("endpoints", service="missing"), False, "service/missing not found"),
        (c("event", reason="ScalingReplicaSet", kind="Deployment", name="web"), True, "1 seen"),
        (c("event", reason="Killing"), False, "no event Killing since this step started"),
        (c("shell", run="kubectl get deployment web"), True, "exit code 0"),
        (c("shell", run="kubectl get deployment nope"), False, "NotFound"),
        (c("shell", run="echo hello", output_matches="bye"), False, "does not match"),
    ]
    for check, ok, detail in cases:
        [r] = await evaluate([check], ctx)
        assert r.passed is ok, (check, r.detail)
        assert detail in r.detail, (check, r.detail)
        assert r.message == ("" if ok else "failed")


async def test_first_failing_check_gives_the_message(lab):
    checks = [c("count", "fine", resource="nodes", gte=1),
              c("exists", "no deployment web: create it", resource="deployments", name="web"),
              c("exists", "second", resource="services", name="web")]
    results = await evaluate(checks, lab.check_context())
    assert [r.passed for r in results] == [True, False, False]
    assert first_failure(results).message == "no deployment web: create it"


async def test_event_check_counts_only_events_after_the_step_began(lab):
    from kubetui.lessons.checks import current_rv
    await lab.client.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
                                     "spec": {"containers": [{"name": "c", "image": "kubetui/hello:1"}]}}, "default")
    ctx = lab.check_context()
    from kubetui.lessons.runner import wait_for_check
    check = c("event", reason="Scheduled", kind="Pod", name="p1")
    assert (await wait_for_check(check, ctx, 10)).passed
    later = lab.check_context(since_rv=await current_rv(lab.client))
    [r] = await evaluate([check], later)
    assert not r.passed                       # the event happened before the step
    await lab.client.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1b"},
                                     "spec": {"containers": [{"name": "c", "image": "kubetui/hello:1"}]}}, "default")
    assert (await wait_for_check(check, later, 10)).passed     # name is a prefix: p1b counts


def _fake_pod_root(tmp_path, answers: dict[str, str], getent: bool):
    """A PATH with BusyBox-like nslookup (answers only the names given) and maybe getent, and a resolv.conf."""
    import os
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cases = "".join(f'  {name}) printf "Server:\\t\\t10.96.0.10\\nAddress:\\t10.96.0.10:53\\n\\nName:\\t{name}\\n'
                    f'Address: {ip}\\n"; exit 0 ;;\n' for name, ip in answers.items())
    (bin_dir / "nslookup").write_text(
        "#!/bin/sh\ncase $1 in\n" + cases + '  *) printf "Server:\\t\\t10.96.0.10\\n\\n** server can\'t find %s: '
        'NXDOMAIN\\n" "$1"; exit 1 ;;\nesac\n')
    (bin_dir / "nslookup").chmod(0o755)
    if getent:
        (bin_dir / "getent").write_text("#!/bin/sh\necho \"10.0.0.9       $2\"\n")
        (bin_dir / "getent").chmod(0o755)
    for tool in ("sed", "tr", "wc", "grep", "tail"):
        src = next(p for p in (f"/usr/bin/{tool}", f"/bin/{tool}") if os.path.exists(p))
        (bin_dir / tool).symlink_to(src)
    return bin_dir


@pytest.mark.parametrize("name,want_rc,want", [
    ("web.default", 0, "10.96.5.5"),          # via the search list: web.default.svc.cluster.local
    ("web", 1, "tried: web.shop.svc.cluster.local web.svc.cluster.local web.cluster.local web"),
    ("web.default.svc.cluster.local", 0, "10.96.5.5"),
])
def test_dns_lookup_without_getent_follows_the_search_list(tmp_path, name, want_rc, want):
    """A BusyBox image has no getent and its nslookup asks for the name as given: the check applies
    resolv.conf's search list itself (before: `getent || nslookup web.default` failed with REFUSED)."""
    import subprocess
    from kubetui.lessons.checks import dns_lookup_script
    bin_dir = _fake_pod_root(tmp_path, {"web.default.svc.cluster.local": "10.96.5.5"}, getent=False)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n"
                      "options ndots:5\n")
    script = dns_lookup_script(name).replace("/etc/resolv.conf", str(resolv))
    r = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, env={"PATH": str(bin_dir)})
    assert r.returncode == want_rc, r.stdout + r.stderr
    assert want in r.stdout
    assert "10.96.0.10" not in r.stdout          # the DNS server's own address is not an answer


def test_dns_lookup_prefers_getent(tmp_path):
    import subprocess
    from kubetui.lessons.checks import dns_lookup_script
    bin_dir = _fake_pod_root(tmp_path, {}, getent=True)
    r = subprocess.run(["/bin/sh", "-c", dns_lookup_script("web")], capture_output=True, text=True,
                       env={"PATH": str(bin_dir)})
    assert r.returncode == 0 and r.stdout.split() == ["10.0.0.9", "web"]


async def test_a_step_starts_even_when_the_api_server_cannot_say_its_revision():
    """During etcd quorum loss a LIST (a consistent read) fails with 'etcdserver: request timed out';
    a lesson step that begins then (the control-plane lesson's last step) must still start."""
    from kubetui.api import errors
    from kubetui.lessons.checks import current_rv

    class NoQuorum:
        async def list(self, *a, **kw):
            raise errors.InternalError("etcdserver: request timed out")

    class Fine:
        async def list(self, *a, **kw):
            return {"metadata": {"resourceVersion": "42"}, "items": []}

    assert await current_rv(NoQuorum()) is None
    assert await current_rv(Fine()) == 42
