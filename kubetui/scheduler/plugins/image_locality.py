"""ImageLocality: prefer nodes that already hold the pod's container images.

Upstream: ``pkg/scheduler/framework/plugins/imagelocality/image_locality.go``.
A node that has the image starts the pod without pulling it. Each image the
node holds counts its size, scaled by the fraction of all nodes that hold it
too (an image on every node gives no node an edge, and spreading it avoids
the "node heating" problem of piling pods onto the one node that has it).
The sum is clamped between 23 MB and 1000 MB per container, then scaled to
0-100: small images (like kubetui's built-in ones) never make a difference.
"""

from __future__ import annotations

from typing import Any

from kubetui.scheduler.framework import MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, CycleState, NodeInfo, PodInfo

NAME = "ImageLocality"

MB = 1024 * 1024
#: 90 % of images on Docker Hub fall between these sizes (compressed)
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    """The pod's image as node status names it: ``:latest`` added when there is no tag (nor digest).

    >>> normalized_image_name("gcr.io:5000/root"), normalized_image_name("root:tag")
    ('gcr.io:5000/root:latest', 'root:tag')
    """
    if name.rfind(":") <= name.rfind("/"):
        name += ":latest"
    return name


def scaled_image_score(size: int, num_nodes: int, total_nodes: int) -> int:
    """The image's size times the fraction of nodes holding it (``int64(float64(size) * spread)``)."""
    return int(float(size) * (num_nodes / total_nodes))


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    """``100 * (sum - 23MB) / (1000MB * containers - 23MB)``, with the sum clamped to that range.

    Example (upstream's test): a pod of two containers, gcr.io/40 and gcr.io/250,
    on two nodes; node2 holds the 250 MB image, node1 does not: node2 scores
    ``100 * (250MB * 1/2 - 23MB) / (2 * 1000MB - 23MB) = 5``.

    >>> calculate_priority(250 * MB // 2, 2), calculate_priority(10 * MB, 1), calculate_priority(4000 * MB, 2)
    (5, 0, 100)
    """
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    if sum_scores < MIN_THRESHOLD:          # if / else if, as upstream: the floor wins over the ceiling
        sum_scores = MIN_THRESHOLD
    elif sum_scores > max_threshold:
        sum_scores = max_threshold
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


def _pod_images(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [normalized_image_name(c.get("image") or "")
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]


class ImageLocality:
    name = NAME
    events = (NODE_ADD, NODE_UPDATE)
    _KEY = "Score" + NAME

    def _spread(self, state: CycleState, pod: PodInfo, node: NodeInfo):
        """The pod's images, how many nodes of the snapshot hold each (upstream's ImageStateSummary.NumNodes),
        and how many nodes there are: counted once per scheduling cycle."""
        if self._KEY not in state:
            images = _pod_images(pod.pod)
            all_nodes = state.nodes or [node]
            counts = {name: sum(1 for ni in all_nodes if name in ni.image_states) for name in set(images)}
            state[self._KEY] = (images, counts, len(all_nodes))
        return state[self._KEY]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        images, counts, total = self._spread(state, pod, node)
        have = node.image_states
        total_score = sum(scaled_image_score(have[name], counts[name], total) for name in images if name in have)
        return calculate_priority(total_score, len(images))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """``score`` for every feasible node at once: the same numbers, without a call per node
        when no node of the snapshot holds any of the pod's images (every score is then 0)."""
        if not nodes:
            return []
        _images, counts, _total = self._spread(state, pod, nodes[0])
        if not any(counts.values()):
            return [0] * len(nodes)
        return [self.score(state, pod, ni) for ni in nodes]

