"""Node IPAM: each Node gets a /24 of 10.244.0.0/16, once, and never a range another node holds."""

from __future__ import annotations

import pytest
from ctrl_helpers import node

from kubetui.controllers.manager import CONTROLLERS
from kubetui.controllers.nodeipam import choose_cidr, subnets


@pytest.mark.parametrize("name, used, want", [
    ("node-1", set(), "10.244.1.0/24"),
    ("node-3", {"10.244.1.0/24"}, "10.244.3.0/24"),
    ("node-3", {"10.244.3.0/24"}, "10.244.1.0/24"),           # its number is taken: lowest free
    ("worker", {"10.244.1.0/24", "10.244.2.0/24"}, "10.244.3.0/24"),
    ("node-999", set(), "10.244.1.0/24"),                      # beyond the /16: lowest free
    ("node-0", set(), "10.244.1.0/24"),                        # .0 is handed out last
    ("x", {f"10.244.{i}.0/24" for i in range(1, 256)}, "10.244.0.0/24"),
    ("x", {f"10.244.{i}.0/24" for i in range(0, 256)}, None),  # full
])
def test_choose_cidr(name, used, want):
    assert choose_cidr(name, used) == want


def test_subnets_of_a_small_cluster_cidr():
    assert subnets("10.10.0.0/23", 24) == ["10.10.0.0/24", "10.10.1.0/24"]
    with pytest.raises(ValueError):
        subnets("10.10.0.0/24", 16)


def test_nodeipam_is_a_default_controller():
    assert "nodeipam" in CONTROLLERS


async def cidrs(api) -> dict[str, list[str]]:
    return {n["metadata"]["name"]: n["spec"].get("podCIDRs") for n in (await api.list("nodes"))["items"]}


async def test_nodes_get_distinct_ranges_and_keep_them_across_a_restart(api, clock, manager_for):
    for name in ("node-1", "node-2", "worker"):
        await node(api, name, clock)
    # a node registered with a range already (as the simulated provider does) keeps it
    await api.create("nodes", {"metadata": {"name": "preset"}, "spec": {"podCIDR": "10.244.7.0/24",
                                                                        "podCIDRs": ["10.244.7.0/24"]}})
    cm = await manager_for("nodeipam")
    got = await cidrs(api)
    assert got["node-1"] == ["10.244.1.0/24"]
    assert got["node-2"] == ["10.244.2.0/24"]
    assert got["preset"] == ["10.244.7.0/24"]
    assert got["worker"] == ["10.244.3.0/24"]
    n1 = await api.get("nodes", "node-1")
    assert n1["spec"]["podCIDR"] == "10.244.1.0/24"

    await cm.stop()
    # "node-7" would like 10.244.7.0/24, but "preset" holds it; a fresh manager reads what nodes hold
    await node(api, "node-7", clock)
    await manager_for("nodeipam")
    got = await cidrs(api)
    assert got["node-7"] == ["10.244.4.0/24"]
    assert got["node-1"] == ["10.244.1.0/24"]
    assert len({c[0] for c in got.values()}) == len(got)


async def test_a_deleted_nodes_range_is_free_again(api, clock, manager_for):
    await node(api, "node-1", clock)
    cm = await manager_for("nodeipam")
    await api.delete("nodes", "node-1")
    await cm.settle()
    await node(api, "worker", clock)
    await cm.settle()
    assert (await cidrs(api))["worker"] == ["10.244.1.0/24"]
