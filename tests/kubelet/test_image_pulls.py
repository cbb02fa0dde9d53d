"""Pulls through the control plane (cluster/imagepulls.py) against a fake host engine: shared pulls,
the engine's copy as a fallback, the hint when nothing supplies an image, and a kubelet pulling over HTTPS."""

import asyncio
import functools
import threading

import pytest

from kubetui.api.resources import resource_for
from kubetui.cluster.imagepulls import PullThrough, serve_pulls
from kubetui.kubelet.apiclient import APIClient
from kubetui.kubelet.imagepolicy import ImageRecord, normalize
from kubetui.kubelet.images import PULLS_GROUP, PullFailed, remote_puller
from tests.kubelet.cluster import NODE, Cluster


class FakeEngine:
    """The host's Docker engine: ``registry`` is what a pull can fetch, ``local`` what it already holds."""

    def __init__(self, registry=(), local=()):
        self.registry = {normalize(r) for r in registry}
        self.local = {normalize(r) for r in local}
        self.pulls, self.copies = [], []
        self.gate = threading.Event()
        self.gate.set()

    def pull(self, image, auth):
        self.pulls.append((image, auth))
        self.gate.wait(5)
        if normalize(image) not in self.registry:
            raise RuntimeError('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: '
                               "no such host")
        self.local.add(normalize(image))
        return f"sha256:{image}", 52_000_000

    def inspect(self, image):
        return (f"sha256:{image}", 52_000_000) if normalize(image) in self.local else None

    def copy(self, node, image):
        self.copies.append((node, image))
        return ""

    def through(self):
        return PullThrough(self.pull, self.inspect, self.copy, lambda: ["n1", "n2", "n3"])


async def test_nodes_pulling_one_image_at_once_share_one_engine_pull():
    eng = FakeEngine(registry=["nginx:1.27"])
    eng.gate.clear()
    pt = eng.through()
    tasks = [asyncio.create_task(pt.pull(n, "nginx:1.27", [])) for n in ("n1", "n2", "n3", "n1")]
    await asyncio.sleep(0.05)
    eng.gate.set()
    results = await asyncio.gather(*tasks)
    assert all(r["pulled"] and r["size"] == 52_000_000 for r in results)
    assert len(eng.pulls) == 1 and pt.engine_pulls == 1
    assert sorted(eng.copies) == [("n1", "nginx:1.27"), ("n2", "nginx:1.27"), ("n3", "nginx:1.27")]


async def test_nothing_supplies_the_image_message_and_hint():
    pt = FakeEngine().through()
    r = await pt.pull("n1", "nginx", [])
    assert not r["pulled"]
    assert r["message"].startswith('failed to pull and unpack image "docker.io/library/nginx:latest": '
                                   'Get "https://registry-1.docker.io/v2/"')
    assert "`kubetui image load nginx`" in r["message"] and "imagePullPolicy: IfNotPresent" in r["message"]
    assert "imagePullPolicy" not in (await pt.pull("n1", "nginx:1.27", []))["message"]


async def test_the_engines_own_copy_when_no_registry_answers():
    eng = FakeEngine(local=["myapp:1"])
    r = await eng.through().pull("n2", "myapp:1", [])
    assert r["pulled"] and eng.copies == [("n2", "myapp:1")]


async def test_each_credential_is_tried_then_none():
    eng = FakeEngine(registry=["private.example/app:1"])
    creds = [{"username": "a", "password": "x", "serveraddress": "private.example"}]
    r = await eng.through().pull("n1", "private.example/app:1", creds)
    assert r["pulled"] and eng.pulls == [("private.example/app:1", creds[0])]


# -- over HTTPS, with a kubelet -----------------------------------------------------------------------

class NodeStore:
    """The node's image store as the kubelet sees it: what the fake engine copied to this node."""

    def __init__(self, engine):
        self.engine = engine

    def lookup(self, image):
        if (NODE, image) in self.engine.copies:
            return ImageRecord(f"sha256:{image}", (normalize(image),), (), 52_000_000)
        return None

    def list(self):
        return [self.lookup(i) for n, i in self.engine.copies if n == NODE]

    def remove(self, image_id):
        pass

    def fs_stats(self):
        return 100, 90


@pytest.fixture
async def cluster(tmp_path, kubectl_bin):
    c = await Cluster().start(tmp_path, kubectl_bin, kubelet=False)
    c.engine = FakeEngine(registry=["example.com/app:1"])
    c.server.extensions[PULLS_GROUP] = functools.partial(serve_pulls, c.engine.through().pull)
    await c.start_kubelet(tmp_path, image_backoff_initial=0.3, image_backoff_max=0.6)
    c.kubelet.images.service = NodeStore(c.engine)
    yield c
    await c.stop()


def waiting(reason):
    def pred(p):
        cs = (p.get("status") or {}).get("containerStatuses") or [{}]
        return cs[0].get("state", {}).get("waiting", {}).get("reason") == reason
    return pred


async def test_kubelet_pulls_through_the_control_plane(cluster):
    pods = resource_for("pods")
    spec = {"containers": [{"name": "app", "image": "example.com/app:1"}]}
    await cluster.registry.create(pods, "default", {"apiVersion": "v1", "kind": "Pod",
                                                    "metadata": {"name": "pulled"}, "spec": {**spec, "nodeName": NODE}})
    missing = {"containers": [{"name": "app", "image": "nginx"}], "nodeName": NODE}
    await cluster.registry.create(pods, "default", {"apiVersion": "v1", "kind": "Pod",
                                                    "metadata": {"name": "missing"}, "spec": missing})
    never = {"containers": [{"name": "app", "image": "example.com/other:1", "imagePullPolicy": "Never"}],
             "nodeName": NODE}
    await cluster.registry.create(pods, "default", {"apiVersion": "v1", "kind": "Pod",
                                                    "metadata": {"name": "never"}, "spec": never})

    p = await cluster.wait_pod("missing", waiting("ImagePullBackOff"))
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == 'Back-off pulling image "nginx"'
    for _ in range(200):                        # the backoff ends: the kubelet pulls again (and fails again)
        if sum(1 for image, _a in cluster.engine.pulls if image == "nginx") >= 2:
            break
        await asyncio.sleep(0.05)
    assert sum(1 for image, _a in cluster.engine.pulls if image == "nginx") >= 2

    p = await cluster.wait_pod("never", waiting("ErrImageNeverPull"))
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == \
        'Container image "example.com/other:1" is not present with pull policy of Never'

    def recorded(pod):
        return [(e["reason"], e["message"]) for e in cluster.kubelet.events.recorded if e["pod"] == pod]
    for _ in range(100):
        if any(r == "Pulled" for r, _m in recorded("pulled")):
            break
        await asyncio.sleep(0.05)
    ev = recorded("pulled")
    assert ev[0] == ("Pulling", 'Pulling image "example.com/app:1"')
    assert ev[1][0] == "Pulled" and ev[1][1].startswith('Successfully pulled image "example.com/app:1" in ')
    assert ev[1][1].endswith("including waiting). Image size: 52000000 bytes.")
    assert (NODE, "example.com/app:1") in cluster.engine.copies
    failed = [m for r, m in recorded("missing") if r == "Failed" and m.startswith("Failed to pull image")]
    assert failed and "no such host" in failed[0] and "`kubetui image load nginx`" in failed[0]
    assert ("Failed", "Error: ErrImagePull") in recorded("missing")
    assert ("Failed", "Error: ImagePullBackOff") in recorded("missing")
    assert ("ErrImageNeverPull", 'Container image "example.com/other:1" is not present with pull policy of Never') \
        in recorded("never") and ("Failed", "Error: ErrImageNeverPull") in recorded("never")


async def test_a_node_pulls_only_for_itself(cluster):
    api = APIClient(cluster.server.url, token=cluster.auth.node_token(NODE), ca_data=cluster.pki.ca_pem().decode())
    try:
        with pytest.raises(PullFailed, match="may only pull images for itself"):
            await remote_puller(api, "someone-else")("example.com/app:1", [])
        record, seconds = await remote_puller(api, NODE)("example.com/app:1", [])
        assert record is None and seconds >= 0
    finally:
        await api.close()


# -- bad input to the pulls endpoint, and a real pull (opt-in) ------------------------------------------

async def test_bad_image_pulls_are_400s_with_upstreams_words(cluster):
    api = APIClient(cluster.server.url, token=cluster.auth.node_token(NODE), ca_data=cluster.pki.ca_pem().decode())
    from kubetui.agent.apiclient import APIError
    path = f"/apis/{PULLS_GROUP}/v1alpha1/nodes/{NODE}/pulls"
    try:
        for body, words in (({"image": ""}, "ImagePull.image: Required value"),
                            ({"image": "x", "auth": "secret"}, "ImagePull.auth: must be a list")):
            with pytest.raises(APIError) as e:
                await api.create(path, body)
            assert e.value.code == 400 and words in e.value.message
        with pytest.raises(APIError) as e:        # a node may only create pulls: authorized before any handler
            await api.get(path)
        assert e.value.code == 403
    finally:
        await api.close()


@pytest.mark.online
@pytest.mark.docker
async def test_a_real_pull_through_the_hosts_engine():
    """With a registry in reach: the host's engine really pulls, then the (fake) node copy follows."""
    from kubetui.providers.docker import docker_client
    from kubetui.providers.docker.images import DockerEngine
    eng = DockerEngine(docker_client())
    copies = []
    pt = PullThrough(lambda i, a: (lambda img: (img.id, img.size))(eng.pull(i, a)),
                     lambda i: (lambda img: img and (img.id, img.size))(eng.inspect(i)),
                     lambda n, i: copies.append((n, i)) or "", lambda: ["n1"])
    r = await pt.pull("n1", "busybox:1.36", [])
    assert r["pulled"] and r["imageID"].startswith("sha256:") and r["size"] > 1_000_000, r
    assert copies == [("n1", "busybox:1.36")]


async def test_an_always_pull_of_the_copy_the_node_holds_copies_nothing():
    eng = FakeEngine(registry=["app:1"])
    pt = eng.through()
    first = await pt.pull("n1", "app:1", [])
    again = await pt.pull("n1", "app:1", [], have=first["imageID"])
    assert again["pulled"] and again["imageID"] == first["imageID"]
    assert eng.copies == [("n1", "app:1")] and len(eng.pulls) == 2      # pulled (checked) twice, copied once
    await pt.pull("n1", "app:1", [], have="sha256:older")                # a different copy: replaced
    assert eng.copies == [("n1", "app:1"), ("n1", "app:1")]
