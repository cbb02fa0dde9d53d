"""The API server load balancer: one address on 127.0.0.1 in front of several API servers.

Upstream: a cluster with several control-plane nodes puts a TCP load balancer
(kubeadm's docs: HAProxy with keepalived, or a cloud LB; kind's
``kindest/haproxy`` container) in front of the kube-apiservers. kubeconfigs,
kubelets and kube-proxies use its address, so losing one API server costs
nothing but the connections it held. It balances *TCP* (TLS passes through:
every API server has a certificate for the same address) and health-checks each
backend on ``/readyz``: an API server that lost its etcd, or is shutting down,
says so there and stops getting new connections.

It also fronts the control-plane nodes' ingress data planes (``Forward``): kind
users map the host's ports to a node's ingress controller (``extraPortMappings``);
here the cluster's ingress HTTP/HTTPS ports on 127.0.0.1 go, as plain TCP, to
the ingress listener of a control-plane node whose API server is healthy (every
node's data plane is programmed alike, as every ingress-nginx replica is).

``choose`` (round robin over healthy backends) and ``next_health`` (how many
checks in a row flip a backend, HAProxy's ``rise``/``fall``) are pure; the
server and the checker are thin asyncio loops.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

log = logging.getLogger(__name__)

#: how many of the latest connections ``stats()`` lists, newest last (which API server served them)
RECENT = 50
RISE, FALL = 2, 2  # HAProxy's defaults: 2 good checks bring a backend in, 2 bad ones take it out (kubeadm's example)


@dataclass
class Backend:
    host: str
    port: int
    healthy: bool = False
    streak: int = 0  # consecutive check results that disagree with ``healthy``
    connections: int = 0
    served: int = 0
    last_error: str = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def next_health(b: Backend, ok: bool, *, rise: int = RISE, fall: int = FALL) -> tuple[bool, int]:
    """A backend's health after one check: it flips after ``rise`` good (``fall`` bad) checks in a row."""
    if ok == b.healthy:
        return b.healthy, 0
    streak = b.streak + 1
    if streak >= (rise if ok else fall):
        return ok, 0
    return b.healthy, streak


def choose(backends: Sequence[Backend], cursor: int) -> tuple[Backend | None, int]:
    """Round robin over the healthy backends, starting after ``cursor``; None when none is healthy."""
    n = len(backends)
    for i in range(1, n + 1):
        b = backends[(cursor + i) % n]
        if b.healthy:
            return b, (cursor + i) % n
    return None, cursor


@dataclass
class Forward:
    """One more frontend port: plain TCP to ``ports[i]`` on backend ``i``'s host (None: that node has none).

    A node's health is its API server's (``/readyz``): the same checks, no second prober."""

    port: int
    ports: list[int | None]
    #: where it listens (the host's loopback: what ``kubetui up`` prints and Ingress status names)
    host: str = "127.0.0.1"
    #: the socket already listening on ``port`` (``netutil.listening_socket``): the cluster chose its ingress
    #: ports before its control planes started, and held them since
    sock: socket.socket | None = None
    _server: asyncio.base_events.Server | None = None
    _cursor: int = -1


@dataclass
class APILoadBalancer:
    """A TCP proxy on ``host:port`` over ``backends``, checking each one's ``/readyz``."""

    backends: list[Backend]
    ca_pem: str
    host: str = "127.0.0.1"
    port: int = 0
    #: more addresses to listen on with the same port (the Docker network's gateway: worker nodes' kubelets
    #: and kube-proxies reach the load balancer there, as kind's nodes reach its haproxy container)
    extra_hosts: tuple[str, ...] = ()
    interval: float = 0.25
    timeout: float = 2.0
    #: how long an API server may take to answer a connection's TLS ClientHello before the connection goes
    #: to the next one (the last one tried gets all the time it needs)
    reply_timeout: float = 1.5
    _server: asyncio.base_events.Server | None = None
    _checker: asyncio.Task[None] | None = None
    _cursor: int = -1
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _ssl: ssl.SSLContext | None = None
    #: the backend (address) each of the latest connections went to, newest last
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT))
    #: HAProxy's stats page: plain HTTP on 127.0.0.1 (``GET /stats``, JSON), started with the balancer
    stats_port: int = 0
    _stats_server: asyncio.base_events.Server | None = None

    def stats(self) -> dict:
        """Per backend: health, open and total connections, last check error; and where the latest went."""
        return {"backends": [{"address": b.address, "healthy": b.healthy, "connections": b.connections,
                              "served": b.served, "lastError": b.last_error} for b in self.backends],
                "recent": list(self.recent)}

    async def _serve_stats(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), self.timeout)
            ok = line.split(b" ")[1:2] == [b"/stats"]
            body = json.dumps(self.stats() if ok else {"error": "not found"}).encode()
            writer.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % (b"200 OK" if ok else b"404 Not Found", len(body)) + body)
            await writer.drain()
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()
    _extra: list[asyncio.base_events.Server] = field(default_factory=list)
    #: the ingress ports it also fronts (see ``Forward``)
    forwards: list[Forward] = field(default_factory=list)

    async def start(self) -> None:
        # The first round sets each backend's state outright (HAProxy's servers start from their first
        # check too): rise/fall smooth flapping later, they must not hold a ready API server out at start.
        results = await asyncio.gather(*(self._readyz(b) for b in self.backends))
        for b, ok in zip(self.backends, results):
            b.healthy, b.streak = ok, 0
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._stats_server = await asyncio.start_server(self._serve_stats, "127.0.0.1", self.stats_port)
        self.stats_port = self._stats_server.sockets[0].getsockname()[1]
        # API servers in control-plane containers read the stats too (the control-plane view), on the gateway
        self._extra += [await asyncio.start_server(self._serve_stats, h, self.stats_port) for h in self.extra_hosts]
        self._extra = [await asyncio.start_server(self._handle, h, self.port) for h in self.extra_hosts]
        for fw in self.forwards:
            if fw.sock is not None:
                fw._server = await asyncio.start_server(functools.partial(self._forward, fw), sock=fw.sock)
            else:
                fw._server = await asyncio.start_server(functools.partial(self._forward, fw), fw.host, fw.port)
            fw.port = fw._server.sockets[0].getsockname()[1]
        self._checker = asyncio.get_running_loop().create_task(self._check_loop())

    async def stop(self) -> None:
        if self._checker is not None:
            self._checker.cancel()
        for server in [self._server, self._stats_server, *self._extra, *(fw._server for fw in self.forwards)]:
            if server is not None:
                server.close()
                await server.wait_closed()
        for t in list(self._tasks):
            t.cancel()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # -- health ------------------------------------------------------------------------------
    def _check_context(self) -> ssl.SSLContext:
        """One TLS context for every check (loading the CA each time, four times a second, was waste)."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cadata=self.ca_pem)
            self._ssl.check_hostname = False  # the serving certificate names the LB's address, not each backend's
        return self._ssl

    async def _readyz(self, b: Backend) -> bool:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(b.host, b.port, ssl=self._check_context()), self.timeout)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
            b.last_error = str(exc) or type(exc).__name__
            return False
        try:
            writer.write(f"GET /readyz HTTP/1.1\r\nHost: {b.host}\r\nConnection: close\r\n\r\n".encode())
            status = await asyncio.wait_for(reader.readline(), self.timeout)
            ok = status.split(b" ")[1:2] == [b"200"]
            b.last_error = "" if ok else status.decode(errors="replace").strip()
            return ok
        except (OSError, asyncio.TimeoutError, IndexError) as exc:
            b.last_error = str(exc) or type(exc).__name__
            return False
        finally:
            writer.close()

    async def check_all(self) -> None:
        results = await asyncio.gather(*(self._readyz(b) for b in self.backends))
        for b, ok in zip(self.backends, results):
            healthy, b.streak = next_health(b, ok)
            if healthy != b.healthy:
                log.info("API server %s is now %s", b.address, "up" if healthy else f"down ({b.last_error})")
            b.healthy = healthy

    async def _check_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check_all()
            except Exception:  # noqa: BLE001 - the checker must outlive one bad round
                log.exception("API load balancer health check")

    # -- proxying ----------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        tried: set[str] = set()
        try:
            # TLS: the client speaks first (its ClientHello). Until an API server has answered it, the
            # connection can go to another one with nothing lost (no request has been read yet)
            hello = await reader.read(65536)
            if not hello:
                return
            while True:
                left = [x for x in self.backends if x.address not in tried]
                b, self._cursor = choose(left, self._cursor)
                if b is None and left:
                    # every check failed lately (or none ran yet): rather than refuse, try each API
                    # server anyway; one that is really gone refuses the connect, and the next is tried
                    b = left[0]
                if b is None:
                    writer.close()  # no API server accepts a connection: the client sees it closed
                    return
                tried.add(b.address)
                try:
                    up_r, up_w = await asyncio.wait_for(asyncio.open_connection(b.host, b.port), self.timeout)
                except (OSError, asyncio.TimeoutError):
                    continue  # the next healthy backend, before the client has sent a byte
                last = len(tried) == len(self.backends)
                first = await _first_reply(up_r, up_w, hello, None if last else self.reply_timeout)
                if not first:
                    # a frozen API server (its node paused: the kernel still accepts connections) or one
                    # that closed at once: redispatch, as HAProxy's `option redispatch` does after a failed connect
                    b.last_error = f"no TLS reply within {self.reply_timeout:g}s"
                    up_w.close()
                    if last:
                        return
                    continue
                writer.write(first)
                b.connections += 1
                b.served += 1
                self.recent.append(b.address)
                try:
                    await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
                finally:
                    b.connections -= 1
                return
        except asyncio.CancelledError:
            # stop() cancels open connections; asyncio's stream server (3.11) logs a connection task that
            # ends cancelled as an error, so it ends normally: closing the client is all there is to do
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()


    async def _forward(self, fw: Forward, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A connection to an ingress port: to the next healthy node's data plane, the next one if it refuses.

        Unlike the API's TLS, nothing is read first: HTTP may wait long for its answer, and replaying a
        request another node may already have acted on would be wrong. A refused connect is safe to retry."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            order = [b for b in self.backends if b.healthy] or list(self.backends)
            fw._cursor += 1  # round robin over the healthy nodes
            start = fw._cursor % len(order) if order else 0
            for b in order[start:] + order[:start]:
                port = fw.ports[self.backends.index(b)]
                if not port:
                    continue
                try:
                    up_r, up_w = await asyncio.wait_for(asyncio.open_connection(b.host, port), self.timeout)
                except (OSError, asyncio.TimeoutError):
                    continue
                await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
                return
        except asyncio.CancelledError:
            pass  # stop(): as in _handle
        finally:
            if task is not None:
                self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()


async def _first_reply(up_r: asyncio.StreamReader, up_w: asyncio.StreamWriter, hello: bytes,
                       timeout: float | None) -> bytes:
    """Send the client's first bytes and return the server's first reply (b"" if none came in time)."""
    try:
        up_w.write(hello)
        await up_w.drain()
        return await asyncio.wait_for(up_r.read(65536), timeout)
    except (OSError, asyncio.TimeoutError):
        return b""


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while chunk := await src.read(65536):
            dst.write(chunk)
            await dst.drain()
    except (OSError, asyncio.CancelledError):
        pass
    finally:
        if not dst.is_closing():
            try:
                dst.write_eof()
            except (OSError, RuntimeError):
                dst.close()
