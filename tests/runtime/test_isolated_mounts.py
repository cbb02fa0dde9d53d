"""The isolated runtime's container set-up: every mount in one fstab, few processes per start."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from pathlib import Path

import pytest

from kubetui.runtime import cri, logs
from kubetui.runtime.cri import Mount
from kubetui.runtime.isolated import container_fstab
from tests.runtime.conftest import RUNS_FROM_TMP, isolated_runtime

SYSFS = "kubetui-sysfs /sys sysfs rw,nosuid,nodev,noexec 0 0\n"
TMPFS = "kubetui-tmp /tmp tmpfs rw,nosuid,nodev 0 0\n"


@pytest.mark.parametrize("mounts, resolv, private_tmp, own_sysfs, want", [
    ([], None, True, True, SYSFS + TMPFS),
    ([], None, False, False, ""),                                    # hostNetwork, a volume from /tmp
    ([Mount("/data", "/v/data", readonly=True)], "/p/resolv.conf", True, False,
     "/v/data /data none bind,ro,X-mount.mkdir 0 0\n"
     "/p/resolv.conf /etc/resolv.conf none bind 0 0\n" + TMPFS),
    # into /tmp: after the tmpfs, or the tmpfs would hide it
    ([Mount("/tmp/cache", "/v/cache"), Mount("/etc/x", "/v/x")], None, True, True,
     SYSFS + "/v/x /etc/x none bind,X-mount.mkdir 0 0\n" + TMPFS
     + "/v/cache /tmp/cache none bind,X-mount.mkdir 0 0\n"),
    # no private /tmp: nothing to come after
    ([Mount("/tmp/cache", "/tmp/host")], None, False, True,
     SYSFS + "/tmp/host /tmp/cache none bind,X-mount.mkdir 0 0\n"),
    # fstab(5) escapes whitespace and backslashes
    ([Mount("/my data", "/v/a\tb\\c")], None, False, False,
     "/v/a\\011b\\134c /my\\040data none bind,X-mount.mkdir 0 0\n"),
], ids=["pod-network", "host-network", "ro-volume-and-dns", "volume-into-tmp", "no-private-tmp", "escapes"])
def test_container_fstab(mounts, resolv, private_tmp, own_sysfs, want):
    assert container_fstab(mounts, resolv, private_tmp, own_sysfs) == want


@pytest.fixture
async def rt(tmp_path):
    async for r in isolated_runtime(tmp_path / "rt", "10.251.8.0/24", "m"):
        yield r


async def test_a_container_gets_its_mounts_hostname_sysfs_and_cgroup(rt, tmp_path):
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(
        name="mounts", namespace="default", uid="u3", resolv_conf="nameserver 10.96.0.10\n"))
    base = Path("/var/tmp") / f"kubetui-test-{secrets.token_hex(3)}"
    (base / "ro").mkdir(parents=True)
    (base / "ro" / "f").write_text("read me\n")
    (base / "rw").mkdir()
    try:
        cid = await rt.create_container(sb.id, cri.ContainerConfig(
            name="c", image="busybox:1.36", command=["sleep", "30"],
            mounts=[Mount(f"{base}/in ro", f"{base}/ro", readonly=True), Mount("/tmp/rw", f"{base}/rw")]))
        await rt.start_container(cid)
        script = (f'hostname; cat "{base}/in ro/f"; touch "{base}/in ro/g" 2>/dev/null || echo ro; '
                  "touch /tmp/rw/written; cat /etc/resolv.conf; ls /sys/class/net | tr '\\n' ,; echo; "
                  "cat /proc/1/cgroup | grep -c kubetui-test- ; ls -A /tmp")
        for _ in range(200):                # its shell mounts as it starts; /tmp/rw comes last
            try:
                r = await rt.exec_sync(cid, ["grep", "-q", " /tmp/rw ", "/proc/1/mountinfo"], 5)
                if r.exit_code == 0:
                    break
            except cri.RuntimeError_:        # no PID 1 yet
                assert rt.container_status(cid).state == cri.RUNNING, logs.read_lines(
                    rt.container_status(cid).log_path)
            await asyncio.sleep(0.05)
        r = await rt.exec_sync(cid, ["sh", "-c", script], 5)
        lines = r.stdout.decode().splitlines()
        assert lines[:5] == ["mounts", "read me", "ro", "nameserver 10.96.0.10", "eth0,lo,"], r.stderr
        assert int(lines[5]) >= 1            # PID 1 is in the container's cgroup
        # A private /tmp, with the volume mounted into it; unless kubetui itself runs from
        # under /tmp (a CI clone there), when the pod keeps the node's /tmp (see isolated.py).
        if RUNS_FROM_TMP:
            assert "rw" in lines[6:]
        else:
            assert lines[6:] == ["rw"]
        assert (base / "rw" / "written").exists()
        assert not (base / "ro" / "g").exists()
    finally:
        subprocess.run(["rm", "-rf", str(base)])
