"""``kubetui bench up`` splits each node's docker stats figure by process (pure part)."""

from __future__ import annotations

from kubetui.bench.nodes import memory_breakdown


def test_agents_pods_and_the_kernel_share():
    procs = [[1, 52, "/sbin/docker-init -- /usr/local/bin/kubetui-node-entrypoint"],
             [7, 17_000, "python3 -m kubetui.agent run kubetui.kubelet --api-server https://x -- kubetui.proxy"],
             [111, 108, "unshare --mount --uts --pid --fork --mount-proc sh -c echo 0"],
             [113, 8_700, "python3 -m kubetui.dns --listen 0.0.0.0:53"],
             [150, 120, "sleep 3600"], [151, 120, "sleep 3600"],
             [200, 9_000, "python3 -c import json"],        # the reader itself
             [3, 0, ""]]                                     # a kernel thread
    got = memory_breakdown(29.0, procs, self_pid=200)
    assert got == {"/sbin/docker-init": 0.1, "agents": 16.6, "unshare": 0.1, "python3 -m kubetui.dns": 8.5,
                   "sleep": 0.2, "kernel and cache": 3.5}


def test_the_kernel_share_is_never_negative():
    assert memory_breakdown(1.0, [[7, 4096, "python3 -m kubetui.agent run"]])["kernel and cache"] == 0.0


def test_the_container_fork_server_and_pause_processes_are_named():
    procs = [[7, 17_000, "python3 -m kubetui.agent run kubetui.kubelet"],
             [90, 3_993, "/usr/bin/python3 -I -S /opt/kubetui/kubetui/runtime/__pycache__/containerinit.cpython-311.pyc "
                         "--zygote 42"],
             [95, 100, "/pause hostname web-1 infinity"]]
    got = memory_breakdown(25.0, procs)
    assert got["container fork server"] == 3.9 and got["/pause"] == 0.1


def test_interpreter_flags_do_not_change_a_python_programs_label():
    """The DNS pod runs ``python3 -OO -m kubetui.dns``: still counted as ``python3 -m kubetui.dns``."""
    got = memory_breakdown(20.0, [[113, 7_680, "python3 -OO -m kubetui.dns --listen 0.0.0.0:53"],
                                  [114, 1_024, "python3 -X importtime -m"]])
    assert got == {"python3 -m kubetui.dns": 7.5, "python3": 1.0, "kernel and cache": 11.5}


def test_a_fork_not_yet_execd_is_not_counted_twice():
    """A child with its parent's command line (the agents forking ``iptables``) shares the parent's pages."""
    agents = "python3 -OO -m kubetui.agent run kubetui.kubelet"
    procs = [[1, 52, "/sbin/docker-init --", 0], [7, 16_500, agents, 1], [300, 16_480, agents, 7],
             [301, 900, "iptables-restore --noflush", 7]]
    got = memory_breakdown(20.0, procs)
    assert got["agents"] == 16.1 and got["iptables-restore"] == 0.9
