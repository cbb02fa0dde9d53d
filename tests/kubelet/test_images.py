"""The kubelet's image manager: the pull decision (pure, table-tested), pull backoff, shared pulls,
imagePullSecrets, Node.status.images and image garbage collection (upstream ``pkg/kubelet/images``)."""

import asyncio
import base64
import json

import pytest

from kubetui.clock import FakeClock
from kubetui.kubelet.imagepolicy import (
    BACK_OFF, NEVER_PULL, PULL, USE_PRESENT, GCImage, ImageRecord, PullBackoff, decide_pull, node_status_images,
    normalize, plan_image_gc,
)
from kubetui.kubelet.images import ImageManager, PullFailed, credentials_for
from kubetui.kubelet.node import node_images


@pytest.mark.parametrize("image,policy,present,pinned,backoff,action", [
    ("nginx:1.27", "IfNotPresent", True, False, False, USE_PRESENT),
    ("nginx:1.27", "IfNotPresent", False, False, False, PULL),
    ("nginx:1.27", "IfNotPresent", False, False, True, BACK_OFF),
    ("nginx:1.27", "IfNotPresent", True, False, True, USE_PRESENT),     # present: backoff does not matter
    ("nginx", "Always", True, False, False, PULL),
    ("nginx", "Always", True, False, True, BACK_OFF),
    ("nginx", "Never", True, False, False, USE_PRESENT),
    ("nginx", "Never", False, False, False, NEVER_PULL),
    ("nginx", "Never", False, False, True, NEVER_PULL),                 # Never has no backoff
    ("nginx", "", True, False, False, PULL),                            # unset: :latest/no tag -> Always
    ("nginx:latest", "", True, False, False, PULL),
    ("nginx:1.27", "", True, False, False, USE_PRESENT),                # unset: a tag -> IfNotPresent
    ("nginx@sha256:" + "a" * 64, "", True, False, False, USE_PRESENT),
    ("busybox", "Always", False, True, False, USE_PRESENT),             # built-in (pinned): never pulled
])
def test_decide_pull(image, policy, present, pinned, backoff, action):
    assert decide_pull(image, policy, present, pinned, backoff).action == action


def test_decisions_are_worded_as_upstreams_events():
    d = decide_pull("x", "Never", False, False, False)
    assert (d.event_type, d.event_reason, d.message, d.error) == (
        "Warning", "ErrImageNeverPull", 'Container image "x" is not present with pull policy of Never',
        "ErrImageNeverPull")
    d = decide_pull("x", "Always", False, False, True)
    assert (d.event_reason, d.message, d.error) == ("BackOff", 'Back-off pulling image "x"', "ImagePullBackOff")
    assert decide_pull("x", "Always", False, False, False).message == 'Pulling image "x"'


def test_pull_backoff_doubles_to_the_cap_and_expires():
    b = PullBackoff(10, 300)
    assert not b.in_backoff_since_update("k", 0)
    assert [b.next("k", t) for t in (0, 10, 30, 70, 150, 310, 620)] == [10, 20, 40, 80, 160, 300, 300]
    assert b.in_backoff_since_update("k", 900) and not b.in_backoff_since_update("k", 921)
    assert b.next("k", 620 + 601) == 10            # untouched for more than twice the cap: starts over


@pytest.mark.parametrize("given,want", [
    ("nginx", "docker.io/library/nginx:latest"), ("library/nginx:1", "docker.io/library/nginx:1"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7"), ("quay.io/x/y", "quay.io/x/y:latest"),
    ("localhost:5000/app:v1", "localhost:5000/app:v1"), ("index.docker.io/nginx", "docker.io/library/nginx:latest"),
])
def test_normalize(given, want):
    assert normalize(given) == want


def test_node_status_images_largest_first_capped_at_50_with_digests_first():
    imgs = [ImageRecord(f"sha256:{i}", (f"docker.io/library/i{i}:1",), (f"docker.io/library/i{i}@sha256:{i}",), i)
            for i in range(60)]
    out = node_status_images(imgs)
    assert len(out) == 50 and [o["sizeBytes"] for o in out] == list(range(59, 9, -1))
    assert out[0]["names"] == ["docker.io/library/i59@sha256:59", "docker.io/library/i59:1"]
    # the kubelet also names the short form a pod spec says, so ImageLocality matches "nginx:1.27"
    assert node_images([ImageRecord("sha256:a", ("docker.io/library/nginx:1.27",), (), 7)])[0]["names"] == [
        "docker.io/library/nginx:1.27", "nginx:1.27"]


@pytest.mark.parametrize("capacity,available,images,want_delete,failed", [
    (100, 30, [GCImage("a", 10, 0, 1)], (), False),                          # 70 % used: nothing to do
    (100, 10, [GCImage("a", 6, 0, 50), GCImage("b", 6, 0, 10)], ("b", "a"), False),   # LRU first
    (100, 10, [GCImage("a", 20, 0, 50, in_use=True)], (), True),             # in use: FreeDiskSpaceFailed
    (100, 10, [GCImage("a", 20, 0, 50, pinned=True)], (), True),             # pinned (built-in)
    (100, 10, [GCImage("a", 20, 990, 995)], (), True),                       # younger than the minimum age
    (100, 15, [GCImage("a", 5, 0, 1), GCImage("b", 50, 0, 2)], ("a",), False),  # 85 %: free 5, one is enough
])
def test_plan_image_gc(capacity, available, images, want_delete, failed):
    plan = plan_image_gc(images, capacity, available, now=1000)
    assert plan.delete == want_delete
    assert bool(plan.failed_message) == failed
    if failed:
        assert plan.failed_message.startswith("Failed to garbage collect required amount of images. Attempted to free")


def _secret(server, user, pw):
    cfg = {"auths": {server: {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}}}
    return {"type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(json.dumps(cfg).encode()).decode()}}


def test_pull_secrets_match_the_images_registry():
    secrets = [_secret("quay.io", "q", "1"), _secret("https://index.docker.io/v1/", "d", "2")]
    assert [c["username"] for c in credentials_for("nginx", secrets)] == ["d"]
    assert [c["username"] for c in credentials_for("quay.io/org/app:1", secrets)] == ["q"]
    assert credentials_for("ghcr.io/x/y", secrets) == []


# -- the manager, with a fake node store, a fake pull-through and a fake clock -----------------------

class Events:
    def __init__(self):
        self.seen = []

    def pod_event(self, pod, etype, reason, message, container=None, init=False):
        self.seen.append((etype, reason, message))


class Store:
    def __init__(self, *images):
        self.images = {i: ImageRecord(f"sha256:{i}", (normalize(i),), (), 1000) for i in images}

    def lookup(self, image):
        return self.images.get(image)

    def list(self):
        return list(self.images.values())

    def remove(self, image_id):
        self.images = {k: v for k, v in self.images.items() if v.id != image_id}

    def fs_stats(self):
        return 100, 50


POD = {"metadata": {"name": "p", "namespace": "default", "uid": "u1"}}


def manager(store, puller):
    clock = FakeClock()
    return ImageManager(store, puller, Events(), clock, backoff_initial=10, backoff_max=300), clock


async def test_present_image_is_used_and_said_so():
    m, _ = manager(Store("nginx:1.27"), None)
    r = await m.ensure_image_exists(POD, {"name": "c", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent"},
                                    False)
    assert r.image_id == "sha256:nginx:1.27" and not r.error
    assert m.events.seen == [("Normal", "Pulled", 'Container image "nginx:1.27" already present on machine')]


async def test_a_present_image_does_not_wait_for_the_default_executor():
    """A burst of pod starts fills the default executor with network plumbing; the image check of a
    pod whose sandbox is ready must not queue behind the other pods' sandboxes."""
    import threading
    gate = threading.Event()
    loop = asyncio.get_running_loop()
    busy = [loop.run_in_executor(None, gate.wait, 10) for _ in range(40)]   # more jobs than workers
    try:
        m, _ = manager(Store("nginx:1.27"), None)
        r = await asyncio.wait_for(m.ensure_image_exists(POD, {"name": "c", "image": "nginx:1.27"}, False), 5)
        assert r.image_id == "sha256:nginx:1.27"
    finally:
        gate.set()
        await asyncio.gather(*busy)


async def test_failed_pull_then_backoff_then_pull_again_after_it():
    calls = []

    async def puller(image, auth, have=""):
        calls.append(image)
        raise PullFailed("no registry")
    m, clock = manager(Store(), puller)
    c = {"name": "c", "image": "nginx"}
    r = await m.ensure_image_exists(POD, c, False)
    assert (r.error, r.message) == ("ErrImagePull", "no registry")
    assert m.events.seen == [("Normal", "Pulling", 'Pulling image "nginx"'),
                             ("Warning", "Failed", 'Failed to pull image "nginx": no registry')]
    r = await m.ensure_image_exists(POD, c, False)
    assert (r.error, r.message) == ("ImagePullBackOff", 'Back-off pulling image "nginx"') and len(calls) == 1
    await clock.advance(10.5)
    r = await m.ensure_image_exists(POD, c, False)
    assert r.error == "ErrImagePull" and len(calls) == 2
    await clock.advance(10.5)                          # the backoff doubled to 20 s
    assert (await m.ensure_image_exists(POD, c, False)).error == "ImagePullBackOff"


async def test_pods_pulling_one_image_together_share_one_pull():
    store = Store()
    release = asyncio.Event()
    calls = []

    async def puller(image, auth, have=""):
        calls.append(image)
        await release.wait()
        store.images[image] = ImageRecord("sha256:new", (normalize(image),), ("docker.io/library/app@sha256:d",), 5)
        return None, 1.5
    m, _ = manager(store, puller)
    pods = [{"metadata": {"name": f"p{i}", "uid": f"u{i}"}} for i in range(3)]
    tasks = [asyncio.create_task(m.ensure_image_exists(p, {"name": "c", "image": "app:1"}, False)) for p in pods]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*tasks)
    assert calls == ["app:1"]
    assert {r.image_id for r in results} == {"docker.io/library/app@sha256:d"}
    pulled = [e for e in m.events.seen if e[1] == "Pulled"]
    assert len(pulled) == 3 and pulled[0][2].startswith('Successfully pulled image "app:1" in 1.5s (')
    assert pulled[0][2].endswith("including waiting). Image size: 5 bytes.")


async def test_gc_deletes_unused_images_and_reports_repeated_failure():
    class Full(Store):
        def fs_stats(self):
            return 100_000, 1_000          # 99 % used
    store = Full("old:1", "used:1")
    m, clock = manager(store, None)
    # first seen now: younger than imageMinimumGCAge (2 min), so kept; not enough freed is a first failure
    assert [e[1] for e in m.collect_garbage(["used:1"])] == ["FreeDiskSpaceFailed"]
    assert set(store.images) == {"old:1", "used:1"}
    await clock.advance(3600)
    events = m.collect_garbage(["used:1"])
    assert set(store.images) == {"used:1"}
    assert [e[1] for e in events] == ["FreeDiskSpaceFailed", "ImageGCFailed"]     # failed twice in a row


async def test_an_always_pull_tells_the_control_plane_which_copy_the_node_has():
    seen = []

    async def puller(image, auth, have=""):
        seen.append(have)
        return None, 0.1
    m, _ = manager(Store("app:latest"), puller)
    r = await m.ensure_image_exists(POD, {"name": "c", "image": "app:latest"}, False)
    assert not r.error and seen == ["sha256:app:latest"]
