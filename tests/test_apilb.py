"""The API load balancer: round robin over ready API servers, health by /readyz with rise/fall, kubectl through it."""

from __future__ import annotations

import pytest
import pytest_asyncio

from kubetui.apiserver.server import APIServer
from kubetui.cluster.apilb import APILoadBalancer, Backend, choose, next_health

from tests.apiserver.test_http_support import start_cluster


def test_a_backend_flips_after_two_checks_in_a_row():
    b = Backend("h", 1, healthy=True)
    assert next_health(b, False) == (True, 1)
    b.streak = 1
    assert next_health(b, False) == (False, 0)
    b.healthy, b.streak = False, 1
    assert next_health(b, True) == (True, 0)
    b.streak = 0
    assert next_health(b, False) == (False, 0)  # agrees: nothing to count


def test_round_robin_skips_unhealthy_backends():
    bs = [Backend("a", 1, healthy=True), Backend("b", 2, healthy=False), Backend("c", 3, healthy=True)]
    picked, cursor = [], -1
    for _ in range(4):
        b, cursor = choose(bs, cursor)
        picked.append(b.host)
    assert picked == ["a", "c", "a", "c"]
    assert choose([Backend("x", 1)], 0) == (None, 0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def two_servers(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("apilb"))
    from kubetui.apiserver.certs import ensure_pki
    pki = ensure_pki(c.state_dir, "test")
    second = APIServer(c.registry, port=0, ssl_context=pki.server_ssl_context(), authenticator=c.server.authenticator
                       .primary)
    await second.start()
    lb = APILoadBalancer([Backend("127.0.0.1", c.server.port), Backend("127.0.0.1", second.port)],
                         ca_pem=pki.ca_pem().decode(), interval=0.05)
    await lb.start()
    # kubectl talks to the load balancer, as a kubeadm HA cluster's kubeconfig does
    text = c.kubeconfig.read_text().replace(c.server.url, lb.url)
    (c.state_dir / "lb.kubeconfig").write_text(text)
    yield c, second, lb
    await lb.stop()
    await second.stop()
    await c.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_ready_backend_serves_as_soon_as_the_balancer_starts(two_servers):
    c, second, lb = two_servers
    fresh = APILoadBalancer([Backend("127.0.0.1", c.server.port)], ca_pem=lb.ca_pem, interval=3600)
    await fresh.start()
    try:
        assert fresh.backends[0].healthy, "the first /readyz check brings a ready API server in"
    finally:
        await fresh.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_the_stats_page_says_which_api_server_took_the_latest_connections(two_servers):
    """HAProxy's stats page, as the control-plane view reads it: per backend its health and connections, and
    which backend each of the latest connections went to (round robin: both, alternately)."""
    import asyncio
    import json
    c, second, lb = two_servers
    kcfg = str(c.state_dir / "lb.kubeconfig")
    before = len(lb.recent)
    for _ in range(2):
        rc, out, err = await c.kubectl(f"--kubeconfig={kcfg}", "get", "namespaces")
        assert rc == 0, err
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.stats_port)
    writer.write(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = (await reader.read()).partition(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 200")
    stats = json.loads(body)
    assert [b["address"] for b in stats["backends"]] == [b.address for b in lb.backends]
    assert all(b["healthy"] for b in stats["backends"]) and all("served" in b for b in stats["backends"])
    assert len(stats["recent"]) >= min(before + 2, 50) and set(stats["recent"]) == {b.address for b in lb.backends}


@pytest.mark.asyncio(loop_scope="module")
async def test_kubectl_through_the_balancer_survives_losing_one_api_server(two_servers):
    import asyncio
    c, second, lb = two_servers
    kcfg = str(c.state_dir / "lb.kubeconfig")
    for i in range(4):
        rc, out, err = await c.kubectl(f"--kubeconfig={kcfg}", "create", "configmap", f"cm{i}", "--from-literal=a=b")
        assert rc == 0, err
    assert all(b.served >= 1 for b in lb.backends)  # both answered
    await second.stop()  # one API server goes away
    for _ in range(100):
        if not lb.backends[1].healthy:
            break
        await asyncio.sleep(0.05)
    assert not lb.backends[1].healthy and lb.backends[0].healthy
    for i in range(4):
        rc, out, err = await c.kubectl(f"--kubeconfig={kcfg}", "get", "configmap", f"cm{i}")
        assert rc == 0, err


@pytest.mark.asyncio
async def test_a_connection_an_api_server_never_answers_goes_to_the_next_one():
    """A paused control-plane node's kernel still accepts connections; its API server never answers the
    ClientHello. Until a server has replied, nothing was served: the balancer sends the connection on."""
    import asyncio

    async def frozen(reader, writer):  # accepts, reads, never answers (a SIGSTOPped/docker-paused process)
        await reader.read(100)
        await asyncio.sleep(3600)

    async def live(reader, writer):
        hello = await reader.read(100)
        writer.write(b"reply to " + hello)
        await writer.drain()
        writer.close()

    servers = [await asyncio.start_server(h, "127.0.0.1", 0) for h in (frozen, live)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    lb = APILoadBalancer([Backend("127.0.0.1", p, healthy=True) for p in ports], ca_pem="", reply_timeout=0.3)
    lb._server = await asyncio.start_server(lb._handle, "127.0.0.1", 0)  # no health checks: both count as healthy
    port = lb._server.sockets[0].getsockname()[1]
    try:
        for _ in range(4):  # round robin starts with either: every connection gets the live server's reply
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello")
            assert await asyncio.wait_for(reader.read(100), 5) == b"reply to hello"
            writer.close()
        assert lb.backends[0].served == 0 and lb.backends[1].served == 4
        assert "no TLS reply" in lb.backends[0].last_error
    finally:
        await lb.stop()
        for s in servers:
            s.close()


async def test_ingress_ports_are_held_from_their_choice_until_the_load_balancer_serves_them(tmp_path):
    """A cluster with several control planes chooses its ingress ports before its members start, and its load
    balancer serves them seconds later. Before, the ports were only checked free at the choice: another
    cluster starting in between took 8080, and this one's start failed ('address already in use')."""
    import asyncio

    from kubetui.cluster.ha import HAControlPlane, ingress_forwards
    from kubetui.cluster.settings import ClusterSettings
    from kubetui.netutil import free_port, port_free

    wanted = (free_port(), free_port())
    settings = ClusterSettings(name="held", control_planes=3, ingress_http_port=wanted[0],
                               ingress_https_port=wanted[1])
    cp = HAControlPlane(settings, tmp_path)
    cp.choose_ingress_ports()
    assert cp.ingress_ports == wanted
    # meanwhile (the members starting), the ports cannot be taken by anyone else
    assert not port_free(wanted[0]) and not port_free(wanted[1])
    # a port taken already is replaced by a free one, held as well
    other = HAControlPlane(ClusterSettings(name="other", control_planes=3, ingress_http_port=wanted[0],
                                           ingress_https_port=0), tmp_path / "other")
    other.choose_ingress_ports()
    assert other.ingress_ports[0] != wanted[0] and not port_free(other.ingress_ports[0])
    other.close_ingress_sockets()
    assert port_free(other.ingress_ports[0])

    # the load balancer serves the held sockets: a connection to the ingress port is accepted
    dead = free_port()
    cp.lb = APILoadBalancer([Backend("127.0.0.1", dead)], ca_pem="", interval=5,
                            forwards=ingress_forwards(cp.ingress_ports, [[dead, dead]], cp.ingress_socks))
    await cp.lb.start()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", wanted[0]), 10)
        writer.close()
    finally:
        await cp.lb.stop()
        cp.close_ingress_sockets()
    assert port_free(wanted[0]) and port_free(wanted[1])
