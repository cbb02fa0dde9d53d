"""Shared pieces of the isolated runtime's tests (they need root; CI fails rather than skips)."""

from __future__ import annotations

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


async def isolated_runtime(root: Path, pod_cidr: str, netns_letter: str,
                           state_dir: Path | None = None) -> AsyncIterator[isolated.IsolatedRuntime]:
    """An isolated runtime with its own bridge, netns prefix and cgroup parent, all removed afterwards.

    Each test module passes its own ``pod_cidr`` and ``netns_letter`` so modules never share addresses;
    ``state_dir`` is the runtime's state directory (a node's ``/run/kubetui/runtime``), else ``root``.
    """
    require_or_skip(*isolated.available())
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
