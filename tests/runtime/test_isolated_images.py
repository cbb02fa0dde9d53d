"""Containers of real images in the isolated runtime: their own root filesystem (overlay + pivot_root).

The test image is built here from this machine's own binaries (sh, cat, ls, id, touch, sleep and
their libraries, in a usrmerged layout), so nothing needs Docker or a registry. Needs root
(skipped elsewhere; fails in CI), like the rest of the isolated runtime's tests.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from kubetui.runtime import cri, logs
from tests.runtime.conftest import isolated_runtime
from tests.runtime.imagearchives import docker_save, image_config

TOOLS = ("sh", "cat", "ls", "id", "touch", "sleep", "stat", "mkdir", "grep")


def _closure() -> set[str]:
    files = set()
    for t in TOOLS:
        p = shutil.which(t)
        if not p:
            pytest.skip(f"no {t} here")
        files.add(os.path.realpath(p))
        files.add(p)                      # /usr/bin/sh -> dash: the link too
        for line in subprocess.run(["ldd", p], capture_output=True, text=True).stdout.splitlines():
            for word in line.split():
                if word.startswith("/"):
                    files.add(os.path.realpath(word))
                    files.add(word)
    return files


def _tool_layer() -> bytes:
    """The machine's tools at their real paths under usr/, with Debian's usrmerge links."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        def add_dir(name):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            t.addfile(info)

        def add_link(name, target):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            t.addfile(info)
        for d in ("usr", "usr/bin", "usr/lib", "usr/lib64", "etc", "tmp", "run", "var"):
            add_dir(d)
        for name, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"),
                             ("var/run", "/run")):
            add_link(name, target)
        done = set()
        for f in sorted(_closure()):
            rel = f.lstrip("/")
            for top in ("bin/", "lib/", "lib64/", "sbin/"):
                if rel.startswith(top):
                    rel = "usr/" + rel
            if rel in done:
                continue
            done.add(rel)
            parts = rel.split("/")
            for i in range(2, len(parts)):
                d = "/".join(parts[:i])
                if d not in done:
                    done.add(d)
                    add_dir(d)
            if os.path.islink(f):
                add_link(rel, os.readlink(f))
            else:
                t.add(f, arcname=rel)
        for name, text in (("etc/os-release", "ID=kubetui-test\nPRETTY_NAME=\"kubetui test image\"\n"),
                           ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
                           ("etc/group", "root:x:0:\napp:x:1000:\nstaff:x:50:app\n"),
                           ("etc/motd", "hidden by the next layer\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _top_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("etc/.wh.motd", b""), ("srv/app.txt", b"from the top layer\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    base, top = _tool_layer(), _top_layer()
    default = docker_save(d / "os.tar", [base, top], ["test/os:1"], config=image_config(
        [base, top], Entrypoint=["/bin/sh", "-c"], Cmd=["echo from-cmd $FROM_IMAGE; cat /etc/os-release"],
        Env=["FROM_IMAGE=yes", "PATH=/usr/bin:/bin"], WorkingDir="/srv"))
    as_app = docker_save(d / "app.tar", [base, top], ["test/app:1"], config=image_config(
        [base, top], Cmd=["sleep", "30"], Env=["PATH=/usr/bin:/bin"], User="app"))
    arm = docker_save(d / "arm.tar", [base], ["test/arm:1"], config=image_config(
        [base], arch="arm64", Cmd=["sh"]))
    return [default, as_app, arm]


@pytest.fixture
async def rt(tmp_path, archives):
    # the runtime's state apart from its root, as on a node (/run/kubetui/runtime, a tmpfs)
    async for r in isolated_runtime(tmp_path / "rt", "10.251.9.0/24", "i", state_dir=tmp_path / "state"):
        for a in archives:
            r.images.import_archive(a)
        yield r


async def run(rt, sb, image="test/os:1", name="c", **kw) -> str:
    cid = await rt.create_container(sb.id, cri.ContainerConfig(name=name, image=image, **kw))
    await rt.start_container(cid)
    return cid


async def sh(rt, cid, script: str) -> cri.ExecResult:
    st = rt.container_status(cid)
    await asyncio.sleep(0.05)
    if st.state != cri.RUNNING:
        await asyncio.sleep(0.2)
        st = rt.container_status(cid)
        raise AssertionError(f"{st.name} {st.state} {st.reason} {st.message}: "
                             f"{[l.text for l in logs.read_lines(st.log_path)]}")
    return await rt.exec_sync(cid, ["sh", "-c", script], 10)


async def test_own_root_filesystem_image_config_and_mounts(rt, tmp_path):
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="web-img", namespace="default", uid="u1"))
    assert rt.pull_image("test/os:1").startswith("sha256:")
    # Entrypoint + Cmd, the image's Env, its files (not the node's)
    cid = await run(rt, sb, name="once")
    await asyncio.wait_for(rt.wait_container(cid), 10)
    text = b"".join(line.text + b"\n" for line in logs.read_lines(rt.container_status(cid).log_path)).decode()
    assert "from-cmd yes" in text and "ID=kubetui-test" in text, text
    assert rt.container_status(cid).exit_code == 0

    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "data.txt").write_text("from a volume\n")
    cid = await run(rt, sb, command=["sleep", "30"], mounts=[cri.Mount("/var/run/app", str(vol), True)])
    r = await sh(rt, cid, "cat /etc/os-release; pwd; cat /etc/hostname; ls /proc | grep -c '^[0-9]';"
                          " cat /run/app/data.txt; test -e /etc/motd || echo motd-whiteout; cat /srv/app.txt;"
                          " echo x > /dev/null && echo devnull-ok; ls /dev/pts/ptmx; grep web-img /etc/hosts")
    lines = r.stdout.decode().splitlines()
    assert r.exit_code == 0, r.stderr
    assert lines[0] == "ID=kubetui-test"                                # the image's file, not the node's
    assert lines[2:4] == ["/srv", "web-img"]                            # WorkingDir; /etc/hostname
    assert int(lines[4]) <= 4                                           # its own PID namespace
    assert lines[5:10] == ["from a volume", "motd-whiteout", "from the top layer", "devnull-ok",
                           "/dev/pts/ptmx"]
    assert lines[10].split() == [sb.ip, "web-img"]                      # the kubelet's /etc/hosts
    # the read-only volume, reached through the image's /var/run -> /run link, refuses writes
    assert (await sh(rt, cid, "touch /var/run/app/x")).exit_code != 0
    # nothing of the node is visible: no path of this checkout, no node-only directory
    assert (await sh(rt, cid, f"test -e {Path(__file__).parent} || echo gone")).stdout == b"gone\n"

    # writes go to this container's upper directory only; a second container does not see them
    assert (await sh(rt, cid, "echo mine > /srv/written; echo new > /newfile")).exit_code == 0
    other = await run(rt, sb, name="other", command=["sleep", "30"])
    r2 = await sh(rt, other, "cat /srv/written /newfile 2>&1; cat /srv/app.txt")
    assert b"No such file" in r2.stdout and b"from the top layer" in r2.stdout
    upper = rt.images.containers_dir() / cid / "upper"
    assert (upper / "srv/written").read_text() == "mine\n" and (upper / "newfile").exists()
    layers = rt.image_status("test/os:1").layer_dirs
    assert not any(Path(d, "srv/written").exists() for d in layers)

    # removing the container removes its upper dir; the layers stay for others
    await rt.stop_container(cid, 0)
    await rt.remove_container(cid)
    assert not upper.exists() and all(Path(d).is_dir() for d in layers)


async def test_users_read_only_root_and_start_errors(rt):
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="sec", namespace="default", uid="u2"))
    app = await run(rt, sb, image="test/app:1", name="app")
    r = await sh(rt, app, "id -u; id -g; id -G; echo $HOME")
    assert r.stdout.decode().split() == ["1000", "1000", "1000", "50", "/home/app"], r.stderr
    forced = await run(rt, sb, image="test/app:1", name="forced", run_as_user=1234, run_as_group=77)
    assert (await sh(rt, forced, "id -u; id -g")).stdout.decode().split() == ["1234", "77"]

    ro = await run(rt, sb, name="ro", command=["sleep", "30"], read_only_root_filesystem=True)
    r = await sh(rt, ro, "touch /srv/x")
    assert r.exit_code != 0 and b"Read-only file system" in r.stderr
    assert (await sh(rt, ro, "echo ok > /dev/shm/x && cat /dev/shm/x")).stdout == b"ok\n"

    bad = await rt.create_container(sb.id, cri.ContainerConfig(name="bad", image="test/os:1", command=["nope"]))
    await rt.start_container(bad)
    await asyncio.wait_for(rt.wait_container(bad), 10)
    st = rt.container_status(bad)
    assert (st.exit_code, st.reason) == (128, "StartError")
    assert st.message.endswith('unable to start container process: exec: "nope": executable file not found '
                               'in $PATH: unknown')

    with pytest.raises(cri.RuntimeError_, match="built for linux/arm64; this node is linux/amd64"):
        await rt.create_container(sb.id, cri.ContainerConfig(name="arm", image="test/arm:1"))
    with pytest.raises(cri.ImagePullError, match='Failed to pull image "nginx"'):
        rt.pull_image("nginx")


def _stat(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rfind(")") + 2:].split()


async def test_containers_are_forked_by_the_zygote_and_end_as_their_pid_1_ends(rt):
    """Containers of images are forked from one interpreter (``runtime/zygote.py``) instead of
    each exec'ing ``nsenter``, ``unshare`` and a fresh ``python3``: the container's PID 1 is handed
    to the runtime's process (a child subreaper), its own process group, PID 1 of its PID
    namespace, and exit codes, signals, stops and logs come out as before."""
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="fork", namespace="default", uid="u3"))
    cids = await asyncio.gather(*(run(rt, sb, name=f"c{i}", command=["sh", "-c", f"sleep 1; exit {i}"])
                                  for i in range(8)))
    zygote = rt._forks._proc.pid
    init = rt.container_status(cids[0]).pid
    assert _stat(init)[1] == str(os.getpid()) and _stat(init)[2] == str(init)   # ppid, pgrp
    assert zygote not in {int(_stat(rt.container_status(cid).pid)[1]) for cid in cids}
    for cid in cids:                        # each one PID 1 of a namespace of its own, none nested
        init = rt.container_status(cid).pid
        nspid = next(ln for ln in Path(f"/proc/{init}/status").read_text().splitlines() if ln.startswith("NSpid"))
        assert nspid.split()[1:] == [str(init), "1"]
    assert "NSpid:\t" + str(zygote) + "\n" in Path(f"/proc/{zygote}/status").read_text()   # in the node's namespace
    for i, cid in enumerate(cids):
        await asyncio.wait_for(rt.wait_container(cid), 10)
        assert rt.container_status(cid).exit_code == i
    # SIGTERM reaches PID 1 (its handler runs); a PID 1 without one ignores it: SIGKILL after the grace
    cid = await run(rt, sb, name="stop", command=["sh", "-c", "trap 'exit 42' TERM; sleep 30 & wait"])
    await asyncio.sleep(0.2)
    await rt.stop_container(cid, 5)
    assert rt.container_status(cid).exit_code == 42
    cid = await run(rt, sb, name="kill", command=["sleep", "30"])
    await rt.stop_container(cid, 0.2)
    assert rt.container_status(cid).exit_code == 137
    # stdout and stderr reach the log
    cid = await run(rt, sb, name="log", command=["sh", "-c", "echo out; echo err >&2"])
    await asyncio.wait_for(rt.wait_container(cid), 10)
    lines = {(line.stream, line.text) for line in logs.read_lines(rt.container_status(cid).log_path)}
    assert {("stdout", b"out"), ("stderr", b"err")} <= lines
    # the pod's pause process: named after the pod on the node's ps, in the pod's network namespace
    live = await run(rt, sb, name="live", command=["sleep", "30"])
    pause = (await rt._pauses[sb.id]).pid
    assert Path(f"/proc/{pause}/cmdline").read_bytes().split(b"\0")[:2] == [b"/pause hostname fork", b"infinity"]
    assert os.readlink(f"/proc/{pause}/ns/net") == os.readlink(f"/proc/{rt.container_status(live).pid}/ns/net")
    await rt.remove_pod_sandbox(sb.id)
    assert not Path(f"/proc/{pause}").exists()


async def test_the_command_starts_with_default_signal_dispositions(rt):
    """Python ignores SIGPIPE from its start, and an ignored signal stays ignored across exec: a
    container's command started by containerinit (or an exec in it) must get the default back,
    or `yes | head -1` in a container never ends."""
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="sigs", namespace="default", uid="u4"))
    for cid in [await run(rt, sb, name="main", command=["sh", "-c", "grep SigIgn /proc/self/status; sleep 30"]),
                await run(rt, sb, name="tty", command=["sh", "-c", "grep SigIgn /proc/self/status; sleep 30"],
                          stdin=True)]:
        await asyncio.sleep(0.3)
        text = b"".join(line.text for line in logs.read_lines(rt.container_status(cid).log_path))
        assert not int(text.split()[-1], 16) & (1 << 12), text          # bit 13 - 1: SIGPIPE
        r = await sh(rt, cid, "grep SigIgn /proc/self/status")
        assert not int(r.stdout.split()[-1], 16) & (1 << 12), r.stdout


async def test_a_zygote_that_ends_leaves_its_containers_and_a_new_one_starts(rt):
    """The zygote holds no container (they are the runtime's children): killed, it takes none with
    it; their exits are still reported, and the next start begins a new zygote."""
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="gone", namespace="default", uid="u5"))
    cid = await run(rt, sb, name="a", command=["sh", "-c", "sleep 1; exit 3"])
    old = rt._forks._proc.pid
    os.kill(old, 9)
    await asyncio.wait_for(rt.wait_container(cid), 10)
    assert rt.container_status(cid).exit_code == 3
    cid = await run(rt, sb, name="b", command=["sh", "-c", "exit 4"])
    await asyncio.wait_for(rt.wait_container(cid), 10)
    assert rt.container_status(cid).exit_code == 4 and rt._forks._proc.pid != old


async def test_an_idle_zygote_is_stopped_and_started_again_on_the_next_start(rt):
    """Issue 18: an idle node keeps no fork server (~3 MiB). The zygote ends once no container has
    started for ``idle_seconds``; the running containers stay, stop and report as before."""
    rt._forks.idle_seconds = 0.3
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="idle", namespace="default", uid="u6"))
    cid = await run(rt, sb, name="a", command=["sh", "-c", "trap 'exit 42' TERM; sleep 30 & wait"])
    old = rt._forks._proc.pid
    for _ in range(100):                    # until the zygote has been stopped and reaped (bounded)
        if rt._forks._proc is None and not Path(f"/proc/{old}").exists():
            break
        await asyncio.sleep(0.05)
    assert rt._forks._proc is None and not Path(f"/proc/{old}").exists()
    assert rt.container_status(cid).state == cri.RUNNING
    await rt.stop_container(cid, 5)
    assert rt.container_status(cid).exit_code == 42
    cid = await run(rt, sb, name="b", command=["sh", "-c", "exit 5"])
    await asyncio.wait_for(rt.wait_container(cid), 10)
    assert rt.container_status(cid).exit_code == 5 and rt._forks._proc is not None
    await rt.remove_pod_sandbox(sb.id)



async def test_small_files_go_to_the_state_dir_and_a_killed_kubelets_leftovers_are_found_there(rt, tmp_path):
    """containerd's two directories: the containers' logs and writable layers on the node's disk
    (``root``), each sandbox's record and /etc files and each container's bundle (its spec, its root
    filesystem's mount point, its start error) in ``state`` (a node's /run tmpfs, where a file costs a
    pod start ~0.01 ms of CPU instead of ~0.2-0.7 ms on the kubelet's ext4 volume). A kubelet that
    was killed is followed by one that finds its pods' processes in the state dir and kills them."""
    state, root = tmp_path / "state", tmp_path / "rt"
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="split", namespace="default", uid="u8"))
    cid = await run(rt, sb, name="main", command=["sleep", "30"])
    await sh(rt, cid, "true")
    pid = rt.container_status(cid).pid
    pod_state, bundle = state / "pods" / sb.id, state / "containers" / cid
    assert {p.name for p in pod_state.iterdir()} >= {"sandbox.json", "processes.json", "hosts", "hostname",
                                                     "resolv.conf"}
    assert {p.name for p in bundle.iterdir()} >= {"spec.marshal", "merged", "start-error"}
    layer = rt.images.containers_dir() / cid
    assert {p.name for p in layer.iterdir()} == {"upper", "work", "image"}
    assert [p.name for p in (root / "pods" / sb.id).iterdir()] == ["main"]
    assert rt.container_status(cid).log_path == str(root / "pods" / sb.id / "main" / "0.log")

    # the kubelet is killed; the next one (same directories) kills what the last one left running
    from kubetui.runtime import isolated
    after = isolated.IsolatedRuntime(root, node_name="iso-node", pod_cidr="10.251.9.0/24", bridge=rt.bridge,
                                     netns_prefix=rt.netns_prefix, cgroup_parent=rt.cgroup_parent, state_dir=state)
    assert after.cleanup_leftovers() >= 2                     # the container's process group and the pause
    await asyncio.wait_for(rt.wait_container(cid), 10)
    assert rt.container_status(cid).exit_code == 137 and not Path(f"/proc/{pid}").exists()
    assert not pod_state.exists() and not bundle.exists() and not layer.exists()
    assert not (root / "pods" / sb.id).exists()

    # a container removed normally takes its bundle and its layer with it
    sb = await rt.run_pod_sandbox(cri.PodSandboxConfig(name="gone", namespace="default", uid="u9"))
    cid = await run(rt, sb, name="main", command=["true"])
    await asyncio.wait_for(rt.wait_container(cid), 10)
    await rt.remove_container(cid)
    assert not (state / "containers" / cid).exists() and not (rt.images.containers_dir() / cid).exists()
    await rt.remove_pod_sandbox(sb.id)
    assert not (state / "pods" / sb.id).exists() and not (root / "pods" / sb.id).exists()
