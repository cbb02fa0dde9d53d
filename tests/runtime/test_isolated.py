"""The isolated runtime: pods in their own netns (veth on a bridge), mount/UTS/PID namespaces and cgroups.

Needs root, iproute2, unshare and nsenter (skipped elsewhere; fails in CI).
Uses its own bridge, 10.251.7.0/24, netns prefix and cgroup parent, and
removes all of them afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

from kubetui.runtime import cri
from tests.runtime.conftest import RUNS_FROM_TMP, isolated_runtime


@pytest.fixture
async def rt(tmp_path):
    async for r in isolated_runtime(tmp_path / "rt", "10.251.7.0/24", "t"):
        yield r


async def start(rt, sb, image, name="c", **kw):
    cid = await rt.create_container(sb.id, cri.ContainerConfig(name=name, image=image, **kw))
    await rt.start_container(cid)
    return cid


async def test_pod_in_its_own_namespaces_reachable_over_the_bridge(rt, tmp_path):
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="web-iso", namespace="default", uid="u1"))
    assert sb.ip == "10.251.7.2"
    # outside /tmp, so the pod also gets its private /tmp
    base = Path("/var/tmp") / f"kubetui-test-{secrets.token_hex(3)}"
    vol = base / "vol"
    vol.mkdir(parents=True)
    (vol / "hello.txt").write_text("from a volume\n")
    mount_at = str(base / "mnt-in-pod")
    (tmp_path / "on-the-node").write_text("x")
    cid = await start(rt, sb, "kubetui/hello:1", mounts=[cri.Mount(mount_at, str(vol))])
    body = None
    for _ in range(100):
        try:
            body = await asyncio.to_thread(lambda: urllib.request.urlopen("http://10.251.7.2:8080/", timeout=1).read())
            break
        except OSError:
            await asyncio.sleep(0.05)
    assert body == b"pod=web-iso node=iso-node version=1\n"
    r = await rt.exec_sync(cid, ["sh", "-c", f"hostname; cat {mount_at}/hello.txt; ls /proc | grep -c '^[0-9]'; "
                                 "ip -o -4 addr show eth0 | awk '{print $4}'; ls -A /tmp | wc -l"], 5)
    shutil.rmtree(base)
    lines = r.stdout.decode().split()
    assert lines[:4] == ["web-iso", "from", "a", "volume"], r.stderr
    assert int(lines[4]) <= 4          # PID namespace: only the pod's processes (+ the exec)
    assert lines[5] == "10.251.7.2/24"
    # A private /tmp, unless kubetui itself runs from under /tmp (a CI clone there):
    # then the pod keeps the node's /tmp, which the tmpfs would otherwise hide.
    assert (lines[6] == "0") is not RUNS_FROM_TMP
    assert rt.container_stats(cid).memory_working_set_bytes > 0
    # SIGTERM reaches the container's PID 1 (hello handles it and exits 0)
    await asyncio.wait_for(rt.stop_container(cid, 5), 10)
    assert rt.container_status(cid).exit_code == 0


async def test_memory_limit_is_a_real_oom_kill(rt):
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="hog", namespace="default", uid="u2"))
    cid = await start(rt, sb, "kubetui/memhog", args=["8", "0.01"], memory_limit_bytes=48 * 2 ** 20)
    await asyncio.wait_for(rt.wait_container(cid), 20)
    await asyncio.sleep(0.05)
    st = rt.container_status(cid)
    from kubetui.runtime import logs
    assert (st.exit_code, st.reason) == (137, "OOMKilled"), logs.read_lines(st.log_path)[-3:]


async def test_a_new_pod_reusing_an_ip_is_reachable_at_once(rt):
    """A deleted pod's MAC must not outlive it in the bridge's neighbour table: the next pod
    given the same IP would be unreachable (probes timing out) until the entry expired."""
    async def serve(name: str, uid: str) -> tuple[str, str]:
        sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name=name, namespace="default", uid=uid))
        await start(rt, sb, "kubetui/hello:1")
        for _ in range(100):
            try:
                body = await asyncio.to_thread(
                    lambda: urllib.request.urlopen(f"http://{sb.ip}:8080/", timeout=1).read())
                return sb.id, body.decode()
            except OSError:
                await asyncio.sleep(0.05)
        return sb.id, ""

    first, body = await serve("first", "u-first")
    assert body.startswith("pod=first")
    ip = rt._sandboxes[first].ip
    await rt.remove_pod_sandbox(first)
    second, body = await serve("second", "u-second")
    assert rt._sandboxes[second].ip == ip, "the runtime reuses the freed address"
    assert body.startswith("pod=second"), body


async def test_a_sandbox_cgroup_is_made_off_the_event_loop(rt, monkeypatch):
    """A cgroup mkdir can wait long on the kernel's cgroup_mutex (each container's cgroup.procs
    write holds it across an RCU grace period): made on the event loop, it stalled every other
    pod of the node during a burst of starts."""
    from kubetui.runtime import cgroups, isolated
    made_in = []
    real = cgroups.Cgroup.create

    def create(self, *a, **kw):
        made_in.append(threading.get_ident())
        return real(self, *a, **kw)
    monkeypatch.setattr(isolated.Cgroup, "create", create)
    loop_thread = threading.get_ident()
    for name, host_network in (("cg-pod", False), ("cg-host", True)):
        sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name=name, namespace="default", uid=name,
                                                           host_network=host_network, memory_limit_bytes=64 << 20))
        assert sb.id in {s.id for s in rt.list_pod_sandboxes()}
    assert len(made_in) == 2 and loop_thread not in made_in


async def test_a_sandbox_removed_the_moment_it_is_made_is_removed(rt):
    """The pause process is forked and reported before it calls setsid: a pod deleted in that
    moment (a FailedMount right after its sandbox, a deletion during a burst) had its pause
    signalled by process group, which did not exist yet; the kill missed and the removal waited
    forever for a pause that went on sleeping (about 1 in 10 here)."""
    for i in range(30):
        sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name=f"gone-{i}", namespace="default", uid=f"g{i}"))
        pause = await rt._pauses[sb.id]
        await asyncio.wait_for(rt.remove_pod_sandbox(sb.id), 10)
        if pause is not None:
            assert pause.returncode is not None
