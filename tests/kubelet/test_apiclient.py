"""The kubelet's API client keeps its connections alive (client-go's transport does the same)."""

from __future__ import annotations

import asyncio

import pytest

from kubetui.kubelet.apiclient import APIClient, APIError
from tests.kubelet.cluster import Cluster


@pytest.fixture
async def cp(tmp_path):
    c = await Cluster().start(tmp_path, kubectl_bin=None, kubelet=False)
    yield c
    await c.stop()


def _client(cp: Cluster) -> APIClient:
    return APIClient(cp.server.url, token=cp.auth.admin_token(), ca_data=cp.pki.ca_pem().decode())


async def test_sequential_requests_share_one_connection(cp):
    api = _client(cp)
    for _ in range(5):
        await api.get("/api/v1/namespaces/default")
    with pytest.raises(APIError) as e:          # an error answer leaves the connection usable too
        await api.get("/api/v1/namespaces/default/pods/nope")
    assert e.value.not_found
    made = await api.create("/api/v1/namespaces/default/configmaps",
                            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}})
    assert made["metadata"]["name"] == "cm"
    await api.delete("/api/v1/namespaces/default/configmaps/cm")
    assert api.connections_opened == 1
    await api.close()


async def test_concurrent_requests_are_capped_and_then_reused(cp):
    api = _client(cp)
    got = await asyncio.gather(*(api.get("/api/v1/namespaces/default") for _ in range(30)))
    assert all(ns["metadata"]["name"] == "default" for ns in got)
    assert 1 <= api.connections_opened <= APIClient.MAX_CONNECTIONS
    opened = api.connections_opened
    await asyncio.gather(*(api.get("/api/v1/namespaces/default") for _ in range(10)))
    assert api.connections_opened == opened
    await api.close()


async def test_a_watch_gets_its_own_connection(cp):
    api = _client(cp)
    await api.get("/api/v1/namespaces/default")
    rv = (await api.get("/api/v1/namespaces/default/configmaps"))["metadata"]["resourceVersion"]
    events = api.watch("/api/v1/namespaces/default/configmaps", {"resourceVersion": rv})
    first = asyncio.ensure_future(events.__anext__())
    await api.create("/api/v1/namespaces/default/configmaps",
                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}})
    typ, obj = await asyncio.wait_for(first, 5)
    assert (typ, obj["metadata"]["name"]) == ("ADDED", "w")
    await events.aclose()
    assert api.connections_opened == 2
    await api.close()


# -- against a bare HTTP server that drops keep-alive connections --------------------------


async def _server(close_after: int):
    """HTTP/1.1 on loopback answering ``{"n": <request number>}``. Each connection answers
    ``close_after`` requests, then takes the next one and closes without a word (a server's
    idle timeout firing just as the request arrives)."""
    served = {"requests": 0, "connections": 0}

    async def handle(reader, writer):
        served["connections"] += 1
        try:
            for answered in range(close_after + 1):
                head = await reader.readuntil(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length:
                    await reader.readexactly(length[0])
                if answered == close_after:
                    break
                served["requests"] += 1
                body = b'{"n": %d}' % served["requests"]
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}", served


async def test_a_connection_the_server_closed_is_replaced_and_the_request_resent():
    srv, url, served = await _server(close_after=1)
    api = APIClient(url)
    try:
        assert (await api.get("/a"))["n"] == 1
        assert (await api.patch("/b", {"x": 1}))["n"] == 2     # sent twice, answered once
        assert (await api.get("/c"))["n"] == 3
        assert served == {"requests": 3, "connections": 3}
        assert api.connections_opened == 3
    finally:
        await api.close()
        srv.close()
        await srv.wait_closed()


async def test_a_fresh_connection_closed_without_an_answer_is_an_error_not_a_retry_loop():
    srv, url, served = await _server(close_after=0)
    api = APIClient(url)
    try:
        with pytest.raises(APIError) as e:
            await api.get("/a")
        assert e.value.code == 503
        assert served["connections"] == 1
    finally:
        srv.close()
        await srv.wait_closed()


async def test_foreground_counts_the_requests_someone_waits_for(cp):
    api = _client(cp)
    seen = []
    orig = api._exchange

    async def spy(*a):
        seen.append(api.foreground)
        return await orig(*a)
    api._exchange = spy
    await api.get("/api/v1/namespaces/default")
    await api.create("/api/v1/namespaces/default/configmaps",
                     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bg"}}, background=True)
    assert seen == [1, 0]
    assert api.foreground == 0
    await api.close()


async def test_idle_pooled_connections_are_closed_after_max_idle_even_without_requests():
    """A burst opens several pooled connections; once idle for ``MAX_IDLE_SECONDS`` each is
    closed (Go's ``IdleConnTimeout``), not only when a later request happens to look at it:
    every open TLS connection costs the node memory."""
    open_now = {"n": 0}

    async def handle(reader, writer):
        open_now["n"] += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(0.05)       # slow enough that a burst needs several connections
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            open_now["n"] -= 1
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    api = APIClient(f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}")
    api.MAX_IDLE_SECONDS = 0.5
    try:
        await asyncio.gather(*(api.get("/a") for _ in range(6)))
        assert api.connections_opened > 1 and open_now["n"] == api.connections_opened
        for _ in range(200):                    # up to 10 s: the sweep is due after 0.5 s idle
            if open_now["n"] == 0:
                break
            await asyncio.sleep(0.05)
        assert open_now["n"] == 0
        assert (await api.get("/a")) == {}      # the pool opens a fresh one when needed
    finally:
        await api.close()
        srv.close()
        await srv.wait_closed()
