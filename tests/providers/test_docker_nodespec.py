"""What a Docker node container is made of (kubetui/providers/docker/nodespec.py): no engine needed."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kubetui.kubelet.__main__ import parse_args
from kubetui.providers.base import NodeConfig
from kubetui.providers.docker import nodespec
from kubetui.timings import KUBERNETES, LAB


def cfg(**kw) -> NodeConfig:
    base = dict(name="node-2", api_url="https://172.18.0.1:6443", token="s3cr3t-t0ken", ca_pem="PEM", cpus=1.5,
                memory="768Mi")
    base.update(kw)
    return NodeConfig(**base)


def test_kubelet_args_parse_as_the_kubelet_expects():
    args = parse_args(nodespec.kubelet_args(cfg()))
    assert args.api_server == "https://172.18.0.1:6443" and args.node_name == "node-2"
    assert args.runtime == "isolated"
    assert args.pod_cidr is None             # taken from Node.spec.podCIDR (node IPAM)
    assert args.node_ip is None              # the container's address on the cluster network
    assert args.port == 10250 and args.root_dir == "/var/lib/kubelet"
    assert args.timings == "@/etc/kubetui/timings.json"
    assert "s3cr3t-t0ken" not in " ".join(nodespec.kubelet_args(cfg()))   # the token is a file, not a flag
    assert parse_args(nodespec.kubelet_args(cfg(pod_cidr="10.244.7.0/24", labels={"b": "2", "a": "1"}))
                      ).node_labels == "a=1,b=2"


def test_node_files_carry_identity_and_timings():
    files = {path: (content, mode) for path, content, mode in nodespec.node_files(cfg(timings=LAB))}
    assert files["/etc/kubetui/token"] == ("s3cr3t-t0ken", 0o600)
    assert files["/etc/kubetui/ca.crt"][0] == "PEM"
    assert json.loads(files["/etc/kubetui/timings.json"][0]) == LAB.as_dict()


def test_host_config_is_privileged_spelled_out_with_real_limits_and_volumes():
    hc = nodespec.host_config("demo", cfg(), "kubetui-demo", "/state/demo/shared")
    assert hc["NetworkMode"] == "kubetui-demo"
    assert hc["CapAdd"] == ["ALL"] and hc["CapDrop"] == ["SYS_RESOURCE"]
    assert "seccomp=unconfined" in hc["SecurityOpt"]
    assert hc["MaskedPaths"] == [] and hc["ReadonlyPaths"] == []     # --security-opt systempaths=unconfined
    assert hc["NanoCpus"] == 1_500_000_000
    assert hc["Memory"] == hc["MemorySwap"] == 768 * 2 ** 20
    assert hc["Init"] is True and "/run" in hc["Tmpfs"]
    assert hc["Binds"] == ["/state/demo/shared:/mnt/kubetui-shared:rw",
                           "kubetui-demo-node-2-volumes:/var/lib/kubetui/volumes:rw",
                           "kubetui-demo-node-2-kubelet:/var/lib/kubelet:rw"]


@pytest.mark.parametrize("change, recreate", [
    ({}, False),
    ({"api_url": "https://172.18.0.1:7000"}, True),      # the API server moved
    ({"token": "other"}, True),
    ({"cpus": 2.0}, True),
    ({"memory": "1Gi"}, True),
    ({"timings": KUBERNETES}, True),
])
def test_config_hash_changes_exactly_when_the_node_must_be_recreated(change, recreate):
    before = nodespec.config_hash(cfg(), "kubetui/node:abc")
    after = nodespec.config_hash(dataclasses.replace(cfg(), **change), "kubetui/node:abc")
    assert (before != after) is recreate
    assert nodespec.config_hash(cfg(), "kubetui/node:def") != before     # a new node image


def test_labels_name_the_cluster_role_and_node():
    labels = nodespec.labels("demo", cfg(), "img")
    assert labels[nodespec.LABEL_CLUSTER] == "demo" and labels[nodespec.LABEL_ROLE] == "node"
    assert labels[nodespec.LABEL_NODE] == "node-2" and labels[nodespec.LABEL_CONFIG]
