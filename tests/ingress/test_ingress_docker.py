"""The built-in ingress controller with Docker nodes: the host reaches pods it cannot route to
(the pod network lives inside the node containers) through their kubelets' portForward streams.

One 2-node Docker cluster for the module; its Docker objects are named ``kubetui-ingress…``.
"""

from __future__ import annotations

import json

import pytest

from tests.ingress.helpers import SHOP_INGRESS, curl, hello, service, tls_secret
from tests.nodes.conftest import DockerCluster, pod_ready, started_docker_cluster, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def ingress_cluster(tmp_path_factory, kubectl_bin):
    with started_docker_cluster(tmp_path_factory, kubectl_bin, "ingress", 2) as cluster:
        yield cluster


def _ready(cluster: DockerCluster, app: str, n: int) -> list[str] | None:
    pods = [p for p in cluster.pods(f"app={app}") if not p["metadata"].get("deletionTimestamp")]
    ready = [p["metadata"]["name"] for p in pods if pod_ready(p)]
    return ready if len(ready) == n else None


def test_host_path_routing_and_tls_reach_pods_on_docker_nodes(ingress_cluster, tmp_path):
    c = ingress_cluster
    for name, replicas in (("cart", 2), ("web", 1)):
        c.apply(hello(name, replicas))
        c.apply(service(name))
    secret, crt = tls_secret("shop.example", "shop-tls")
    c.apply(secret)
    c.apply(SHOP_INGRESS)
    cart = set(wait_for("2 ready cart pods", lambda: _ready(c, "cart", 2), 180))
    web = set(wait_for("1 ready web pod", lambda: _ready(c, "web", 1), 120))
    status = wait_for("the Ingress's address", lambda: c.get("ingress", "shop")["status"]["loadBalancer"].get(
        "ingress"), 60)
    assert status[0]["ip"] == "127.0.0.1"
    http, https = (p["port"] for p in status[0]["ports"])
    url = f"http://127.0.0.1:{http}"

    def cart_answers():
        code, body = curl("-H", "Host: shop.example", f"{url}/cart")
        return body if code == 200 else None
    wait_for("the cart route through the ingress", cart_answers, 60)
    answered = set()
    for _ in range(6):
        code, body = curl("-H", "Host: shop.example", f"{url}/cart")
        assert code == 200, body
        answered.add(body.split()[0].removeprefix("pod="))
    assert answered == cart                           # round robin over both replicas, on their nodes
    code, body = curl("-H", "Host: shop.example", f"{url}/")
    assert code == 200 and body.split()[0].removeprefix("pod=") in web
    assert curl("-H", "Host: nowhere.example", f"{url}/") == (404, "default backend - 404\n")
    ca = tmp_path / "shop.pem"
    ca.write_bytes(crt)
    code, body = curl("--resolve", f"shop.example:{https}:127.0.0.1", "--cacert", str(ca),
                      f"https://shop.example:{https}/cart")
    assert code == 200 and body.split()[0].removeprefix("pod=") in cart, body
    # the traffic view counts what the ingress controller sent to each cart pod
    doc = json.loads(c.kubectl("get", "--raw", "/apis/networking.kubetui.dev/v1alpha1/namespaces/default/"
                                               "services/cart/traffic").stdout)
    eps = doc["ingresses"]["default/cart:80"]
    assert sum(e["connections"] for e in eps.values()) >= 8
    assert {e["pod"].split("/")[1] for e in eps.values()} == cart
