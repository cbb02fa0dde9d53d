"""ImageLocality scores exactly as upstream (cases from ``image_locality_test.go``)."""

import pytest

from kubetui.scheduler.framework import CycleState, NodeInfo, PodInfo
from kubetui.scheduler.plugins.image_locality import ImageLocality, normalized_image_name
from kubetui.scheduler.profiles import build_profile

MB = 1024 * 1024


def node(name, *images):
    return {"metadata": {"name": name},
            "status": {"images": [{"names": list(names), "sizeBytes": size * MB} for names, size in images]}}


def pod(*images):
    return {"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": f"c{i}", "image": img} for i, img in enumerate(images)]}}


N403002000 = (["gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"], 40), (["gcr.io/300:latest", "gcr.io/300:v1"], 300), \
    (["gcr.io/2000:latest"], 2000)
N25010 = (["gcr.io/250:latest"], 250), (["gcr.io/10:latest", "gcr.io/10:v1"], 10)
N60040900 = (["gcr.io/600:latest"], 600), (["gcr.io/40:latest"], 40), (["gcr.io/900:latest"], 900)
N300600900 = (["gcr.io/300:latest"], 300), (["gcr.io/600:latest"], 600), (["gcr.io/900:latest"], 900)
N400030 = (["gcr.io/4000:latest"], 4000), (["gcr.io/30:latest"], 30)
N203040 = (["gcr.io/20:latest"], 20), (["gcr.io/30:latest"], 30), (["gcr.io/40:latest"], 40)


@pytest.mark.parametrize("images,nodes,want", [
    # two images spread on two nodes, prefer the larger image one
    (("gcr.io/40", "gcr.io/250"), [N403002000, N25010], [0, 5]),
    # two images on one node, prefer this node
    (("gcr.io/40", "gcr.io/300"), [N403002000, N25010], [7, 0]),
    # if exceed limit, use limit
    (("gcr.io/10", "gcr.io/4000"), [N400030, N25010], [100, 0]),
    # if exceed limit, use limit (with a node which has no images present)
    (("gcr.io/10", "gcr.io/4000"), [N400030, N25010, ()], [66, 0, 0]),
    # pod with multiple large images, node2 is preferred
    (("gcr.io/300", "gcr.io/600", "gcr.io/900"), [N60040900, N300600900, ()], [32, 36, 0]),
    # pod with multiple small images
    (("gcr.io/30", "gcr.io/40"), [N203040, N400030], [1, 0]),
])
def test_upstream_cases(images, nodes, want):
    infos = [NodeInfo(node(f"node{i + 1}", *imgs)) for i, imgs in enumerate(nodes)]
    state = CycleState(infos)
    pl, pi = ImageLocality(), PodInfo(pod(*images))
    assert [pl.score(state, pi, ni) for ni in infos] == want


def test_init_containers_count_as_upstream_does_now():
    p = pod("gcr.io/250")
    p["spec"]["initContainers"] = [{"name": "i", "image": "gcr.io/4000"}]
    infos = [NodeInfo(node("node1", *N400030)), NodeInfo(node("node2", *N25010))]
    state = CycleState(infos)
    # node1: 4000MB * 1/2 = 2000MB, clamped to 2 * 1000MB -> 100; node2: 250/2 = 125MB -> 100*(125-23)/(2000-23) = 5
    assert [ImageLocality().score(state, PodInfo(p), ni) for ni in infos] == [100, 5]


@pytest.mark.parametrize("given,want", [
    ("root", "root:latest"), ("gcr.io:5000/root", "gcr.io:5000/root:latest"), ("root:tag", "root:tag"),
    ("root@sha256:" + "a" * 64, "root@sha256:" + "a" * 64),
])
def test_normalized_image_name(given, want):
    assert normalized_image_name(given) == want


def test_in_the_default_profile_with_upstreams_weight():
    prof = build_profile()
    assert any(p.name == "ImageLocality" for p in prof.plugins) and prof.weights["ImageLocality"] == 1


def test_score_nodes_equals_score_per_node():
    infos = [NodeInfo(node("node1", *N60040900)), NodeInfo(node("node2", *N300600900)), NodeInfo(node("node3"))]
    pl = ImageLocality()
    for images in (("gcr.io/300", "gcr.io/600", "gcr.io/900"), ("gcr.io/none",), ()):
        pi = PodInfo(pod(*images))
        assert pl.score_nodes(CycleState(infos), pi, infos) == [pl.score(CycleState(infos), pi, ni) for ni in infos]
