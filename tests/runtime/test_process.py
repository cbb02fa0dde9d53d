"""The plain-process runtime, with real processes bound to loopback addresses."""

import asyncio
import json
import urllib.request

import pytest

from kubetui.runtime import cri, logs
from kubetui.runtime.process import ProcessRuntime


@pytest.fixture
async def rt(tmp_path):
    r = ProcessRuntime(tmp_path / "rt", node_name="node-a", pod_cidr="127.244.77.0/24")
    await r.start()
    yield r
    await r.close()


def sandbox(name="p1"):
    return cri.PodSandboxConfig(name=name, namespace="default", uid="uid-" + name)


async def run(rt, sb, image, command=None, args=None, **kw):
    cid = await rt.create_container(sb.id, cri.ContainerConfig(
        name=kw.pop("name", "c"), image=image, command=command or [], args=args or [], **kw))
    await rt.start_container(cid)
    return cid


async def wait_http(url, tries=100):
    for _ in range(tries):
        try:
            return await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=1).read())
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered")


async def test_hello_binds_pod_ip_and_names_pod(rt):
    a = await rt.run_pod_sandbox(sandbox("web-a"))
    b = await rt.run_pod_sandbox(sandbox("web-b"))
    assert a.ip == "127.244.77.2" and b.ip == "127.244.77.3"
    await run(rt, a, "kubetui/hello:1")
    await run(rt, b, "kubetui/hello:2")
    assert await wait_http(f"http://{a.ip}:8080/") == b"pod=web-a node=node-a version=1\n"
    body = json.loads(await wait_http(f"http://{b.ip}:8080/json"))
    assert body["pod"] == "web-b" and body["version"] == "2" and body["requests"] == 1


async def test_broken_healthz_fails(rt):
    sb = await rt.run_pod_sandbox(sandbox("broken"))
    await run(rt, sb, "kubetui/hello:broken")
    await wait_http(f"http://{sb.ip}:8080/")
    with pytest.raises(urllib.error.HTTPError) as e:
        await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{sb.ip}:8080/healthz"))
    assert e.value.code == 500


async def test_crash_exit_code_and_logs(rt):
    sb = await rt.run_pod_sandbox(sandbox())
    cid = await run(rt, sb, "kubetui/crash", args=["0", "3"])
    await asyncio.wait_for(rt.wait_container(cid), 10)
    st = rt.container_status(cid)
    assert (st.state, st.exit_code, st.reason) == (cri.EXITED, 3, "Error")
    lines = logs.read_lines(st.log_path)
    assert [l.stream for l in lines] == ["stdout", "stderr"]
    assert b"exit code 3" in lines[1].text and lines[1].full


async def test_busybox_shell_completes(rt):
    sb = await rt.run_pod_sandbox(sandbox())
    cid = await run(rt, sb, "busybox", command=["sh", "-c", "echo $HOSTNAME; hostname; exit 0"])
    await asyncio.wait_for(rt.wait_container(cid), 10)
    st = rt.container_status(cid)
    assert (st.exit_code, st.reason) == (0, "Completed")
    assert [l.text for l in logs.read_lines(st.log_path)] == [b"p1", b"p1"]


async def test_missing_command_is_start_error(rt):
    sb = await rt.run_pod_sandbox(sandbox())
    cid = await rt.create_container(sb.id, cri.ContainerConfig(
        name="c", image="busybox", command=["no-such-binary-kubetui"]))
    with pytest.raises(cri.RuntimeError_) as e:
        await rt.start_container(cid)
    assert e.value.reason == "RunContainerError"
    st = rt.container_status(cid)
    assert (st.exit_code, st.reason) == (128, "StartError")


async def test_graceful_stop_sigterm_then_sigkill(rt):
    sb = await rt.run_pod_sandbox(sandbox())
    # honours SIGTERM: exits 0 by itself
    polite = await run(rt, sb, "kubetui/hello:1", name="polite")
    await wait_http(f"http://{sb.ip}:8080/")
    await asyncio.wait_for(rt.stop_container(polite, 5), 5)
    assert rt.container_status(polite).exit_code == 0
    # ignores SIGTERM: killed after the grace period -> 137
    stubborn = await run(rt, sb, "busybox", name="stubborn",
                         command=["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"])
    await asyncio.sleep(0.3)
    await asyncio.wait_for(rt.stop_container(stubborn, 0.3), 5)
    st = rt.container_status(stubborn)
    assert (st.exit_code, st.reason) == (137, "Error")


async def test_exec_sync_and_streaming(rt):
    sb = await rt.run_pod_sandbox(sandbox("ex"))
    cid = await run(rt, sb, "busybox", command=["sleep", "30"])
    r = await rt.exec_sync(cid, ["sh", "-c", "echo out; echo err >&2; exit 4"], 5)
    assert (r.exit_code, r.stdout, r.stderr) == (4, b"out\n", b"err\n")
    p = await rt.exec(cid, ["cat"], stdin=True)
    await p.write_stdin(b"hello\n")
    await p.close_stdin()
    got = [x async for x in p.output()]
    assert got == [(1, b"hello\n")] and await p.wait() == 0
    stats = rt.container_stats(cid)
    assert stats.memory_working_set_bytes > 0


async def test_cleanup_kills_leftovers_of_a_killed_node(tmp_path):
    r1 = ProcessRuntime(tmp_path / "rt", node_name="n")
    await r1.start()
    sb = await r1.run_pod_sandbox(sandbox())
    cid = await run(r1, sb, "busybox", command=["sleep", "30"])
    pid = r1.container_status(cid).pid
    # a new runtime on the same root (the kubelet restarted) kills and forgets it
    r2 = ProcessRuntime(tmp_path / "rt", node_name="n")
    await r2.start()
    await asyncio.wait_for(r1.wait_container(cid), 5)
    assert r1.container_status(cid).exit_code == 137
    assert not list((tmp_path / "rt" / "pods").iterdir())
    assert pid


async def test_tty_container_main_process_is_on_a_pty_logged_as_it_prints(rt):
    """``tty: true``: the main process runs on a terminal the runtime keeps; attach's input
    goes to it, and what the terminal shows reaches the log at once (a prompt is a partial
    line), as containerd logs a tty container."""
    sb = await rt.run_pod_sandbox(sandbox())
    cid = await run(rt, sb, "busybox", command=["sh", "-c", "printf 'name? '; read a; tty; echo hi-$a"],
                    stdin=True, tty=True)
    st = rt.container_status(cid)
    for _ in range(100):
        if any(l.text == b"name? " and not l.full for l in logs.read_lines(st.log_path)):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"no partial prompt line: {logs.read_lines(st.log_path)}")
    term = rt.container_stdin(cid)
    await term.write_stdin(b"bob\r")
    await asyncio.wait_for(rt.wait_container(cid), 10)
    text = b"".join(l.render(False) for l in logs.read_lines(st.log_path))
    assert b"/dev/pts/" in text and b"hi-bob" in text, text


def test_local_provider_refuses_real_images_naming_the_docker_provider(tmp_path):
    rt = ProcessRuntime(tmp_path, node_name="n")
    with pytest.raises(cri.ImagePullError) as e:
        rt.pull_image("nginx:1.27")
    assert 'Failed to pull image "nginx:1.27"' in e.value.message
    assert "cannot run container images" in e.value.message and "--provider docker" in e.value.message
    assert rt.pull_image("kubetui/hello:1").startswith("sha256:")


def test_cleanup_leftovers_returns_once_the_left_processes_have_exited(tmp_path):
    """A killed kubelet's pods are killed by its successor (or by ``stop_node``); what they held (their
    address, the local cluster's loopback block) must be free when that returns, not a moment later:
    SIGKILL is only delivered when the process next runs (a flaky full-suite failure showed it)."""
    import os
    import subprocess
    import sys

    from kubetui.runtime import procfs as proc_mod
    rt = ProcessRuntime(tmp_path / "rt", node_name="node-x")
    # a process group a previous kubelet started and recorded, as the runtime records it; with
    # 512 MiB written, its exit takes a while (the kernel frees the memory before closing its files)
    left = subprocess.Popen([sys.executable, "-c", "import sys, time; b = b'x' * (512 << 20); "
                             "print('ready', flush=True); time.sleep(600)"],
                            start_new_session=True, stdout=subprocess.PIPE)
    try:
        assert left.stdout.readline() == b"ready\n"
        pod_dir = rt.state / "pods" / "sandbox-left"
        pod_dir.mkdir(parents=True)
        (pod_dir / "processes.json").write_text(json.dumps({"c": [left.pid, proc_mod.start_ticks(left.pid)]}))
        assert rt.cleanup_leftovers() == 1
        assert not proc_mod.running(left.pid)          # exited (a zombie until reaped below), not "dying"
    finally:
        if left.poll() is None:
            os.killpg(left.pid, 9)
        left.wait()
