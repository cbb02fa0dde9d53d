"""A control-plane container's supervisor (``kubetui.cluster.cpnode``): the commands it starts (pure)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kubetui.cluster.cpnode import etcd_member, member_argv

CFG = {"node": "lab-control-plane2", "first": "lab-control-plane", "stateDir": "/s", "logDir": "/s/control-planes",
       "initialCluster": "lab-control-plane=https://lab-control-plane:2380,lab-control-plane2=https://lab-control-plane2:2380",
       "extraHosts": ["172.18.0.1"]}


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_control_plane_process_uses_its_local_etcd_member_and_joins_after_the_first_node():
    argv = member_argv(CFG, "172.18.0.3", first_boot=True)
    assert _flag(argv, "--etcd-servers") == "https://127.0.0.1:2379"  # kubeadm's stacked etcd: the local member
    assert _flag(argv, "--port") == "6443" and _flag(argv, "--bind-address") == "172.18.0.3"
    assert _flag(argv, "--advertise-address") == "172.18.0.3" and _flag(argv, "--extra-host") == "172.18.0.1"
    assert _flag(argv, "--join") == "lab-control-plane", "a new cluster: the first node bootstraps the store alone"
    assert _flag(member_argv(CFG, "172.18.0.3", first_boot=False), "--join") == "", "a restart joins at once"
    assert _flag(member_argv({**CFG, "node": "lab-control-plane"}, "x", first_boot=True), "--join") == ""


@pytest.mark.etcd  # the command names the etcd binary (the ha extra)
def test_the_etcd_member_listens_everywhere_and_advertises_its_node_name():
    cmd = etcd_member(CFG).command()
    assert _flag(cmd, "--listen-peer-urls") == "https://0.0.0.0:2380"
    assert _flag(cmd, "--initial-advertise-peer-urls") == "https://lab-control-plane2:2380"
    assert _flag(cmd, "--advertise-client-urls") == "https://lab-control-plane2:2379"
    assert _flag(cmd, "--initial-cluster") == CFG["initialCluster"]
    assert "--peer-client-cert-auth" in cmd and _flag(cmd, "--peer-trusted-ca-file") == "/s/pki/ca.crt"


def test_the_supervisor_starts_without_importing_the_control_plane():
    code = ("import sys, kubetui.cluster.cpnode; "
            "print(sorted(m for m in sys.modules if m.startswith(('kubetui.apiserver', 'aiohttp', 'cryptography'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
