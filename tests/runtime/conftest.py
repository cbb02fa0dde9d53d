"""Shared pieces of the isolated runtime's tests (they need root; CI fails rather than skips)."""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
import sys
from pathlib import Path
from typing import AsyncIterator

import kubetui
from kubetui.runtime import isolated
from tests.conftest import require_or_skip

#: kubetui runs from a checkout under /tmp (a CI clone there): pods then keep the
#: node's /tmp, which a private tmpfs would hide (see ``isolated._host_paths_needed``).
RUNS_FROM_TMP = any(str(p).startswith("/tmp/") for p in (sys.executable, Path(kubetui.__file__)))


def remove_stale_test_bridges(pod_cidr: str) -> list[str]:
    """Delete test bridges (``ktbr*``) left holding an address in ``pod_cidr`` by a test run that
    was killed before its teardown: the stale bridge keeps the subnet's route, so a new bridge with
    the same subnet gets none and its pods are unreachable (seen after a timed-out run)."""
    net = ipaddress.ip_network(pod_cidr)
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    stale = sorted({line.split()[1] for line in out.splitlines()
                    if len(line.split()) > 3 and line.split()[1].startswith("ktbr")
                    and ipaddress.ip_interface(line.split()[3]).ip in net})
    for dev in stale:
        subprocess.run(["ip", "link", "del", dev], capture_output=True)
    return stale


async def isolated_runtime(root: Path, pod_cidr: str, netns_letter: str,
                           state_dir: Path | None = None) -> AsyncIterator[isolated.IsolatedRuntime]:
    """An isolated runtime with its own bridge, netns prefix and cgroup parent, all removed afterwards.

    Each test module passes its own ``pod_cidr`` and ``netns_letter`` so modules never share addresses;
    ``state_dir`` is the runtime's state directory (a node's ``/run/kubetui/runtime``), else ``root``.
    """
    require_or_skip(*isolated.available())
    remove_stale_test_bridges(pod_cidr)
    tag = secrets.token_hex(3)
    prefix = f"kt{netns_letter}{tag}-"
    r = isolated.IsolatedRuntime(root, node_name="iso-node", pod_cidr=pod_cidr, bridge=f"ktbr{tag}",
                                 netns_prefix=prefix, cgroup_parent=f"kubetui-test-{tag}", state_dir=state_dir)
    await r.start()
    yield r
    for sb in list(r.list_pod_sandboxes()):
        await r.remove_pod_sandbox(sb.id)
    await r.close()
    r.cleanup_leftovers()
    r.teardown_node_network()
    assert prefix not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(d.exists() for d in isolated.Cgroup(f"kubetui-test-{tag}").dirs())
