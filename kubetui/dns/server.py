"""The DNS server: UDP and TCP on one port, answering from the cluster zone.

Upstream: CoreDNS with the kubeadm Corefile (``kubernetes cluster.local
in-addr.arpa ip6.arpa``, ``forward . /etc/resolv.conf``). Names in
``cluster.local`` (and reverse names of cluster addresses) are answered with
authority. Anything else is forwarded to the upstream resolver when there is
one, and otherwise refused at once: kubetui runs offline, and a quick REFUSED
lets a pod's resolver give up on ``example.com`` immediately instead of
timing out.

UDP answers larger than 512 bytes are truncated (TC bit) so the client retries
over TCP (RFC 1035 §4.2.1); TCP messages carry a two-byte length (§4.2.2).
Standard library only: it runs in a pod from the node image.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Callable

from kubetui.dns import wire
from kubetui.dns.records import Zone

log = logging.getLogger(__name__)

UDP_LIMIT = 512


class DNSServer:
    def __init__(self, zone: Callable[[], Zone], upstream: tuple[str, int] | None = None,
                 forward_timeout: float = 2.0) -> None:
        self.zone = zone
        self.upstream = upstream
        self.forward_timeout = forward_timeout
        self.answered: dict[str, int] = {}          # rcode name -> count (for logs and tests)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None

    # --- answering -------------------------------------------------------------------------

    async def answer(self, data: bytes) -> bytes | None:
        try:
            q = wire.parse(data)
        except wire.FormatError as e:
            log.debug("malformed query: %s", e)
            if len(data) < 12:
                return None
            mid, flags = struct.unpack("!2H", data[:4])
            return wire.build(wire.Message(mid, wire.response_flags(flags, wire.FORMERR, False)))
        if q.is_response:
            return None
        if q.opcode != 0:
            return self._reply(q, wire.NOTIMP, [], [], [], authoritative=False)
        if len(q.questions) != 1:
            return self._reply(q, wire.FORMERR, [], [], [], authoritative=False)
        question = q.questions[0]
        zone = self.zone()
        if zone.in_zone(question.name) or (zone.is_reverse(question.name)
                                           and zone.lookup(question.name, question.qtype)[0] == wire.NOERROR):
            rcode, answers, additional = zone.lookup(question.name, question.qtype)
            authority = [zone.soa()] if not answers else []
            return self._reply(q, rcode, answers, authority, additional)
        if self.upstream is not None:
            forwarded = await self._forward(data)
            if forwarded is not None:
                self._count(forwarded[3] & 0xF if len(forwarded) >= 4 else wire.SERVFAIL)
                return forwarded
            return self._reply(q, wire.SERVFAIL, [], [], [], authoritative=False)
        return self._reply(q, wire.REFUSED, [], [], [], authoritative=False)

    def _reply(self, q: wire.Message, rcode: int, answers, authority, additional,
               authoritative: bool = True) -> bytes:
        self._count(rcode)
        msg = wire.Message(q.id, wire.response_flags(q.flags, rcode, authoritative, self.upstream is not None),
                           list(q.questions), list(answers), list(authority), list(additional))
        return wire.build(msg)

    def _count(self, rcode: int) -> None:
        name = wire.RCODE_NAMES.get(rcode, str(rcode))
        self.answered[name] = self.answered.get(name, 0) + 1

    async def _forward(self, data: bytes) -> bytes | None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()

        class Once(asyncio.DatagramProtocol):
            def datagram_received(self, reply: bytes, addr) -> None:
                if not done.done() and reply[:2] == data[:2]:
                    done.set_result(reply)

        assert self.upstream is not None
        transport, _ = await loop.create_datagram_endpoint(Once, remote_addr=self.upstream)
        try:
            transport.sendto(data)
            return await asyncio.wait_for(done, self.forward_timeout)
        except (asyncio.TimeoutError, OSError) as e:
            log.info("forwarding to %s:%d failed: %s", *self.upstream, e)
            return None
        finally:
            transport.close()

    # --- transports --------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> int:
        """Listen on UDP and TCP ``host:port`` (port 0: any free port, the same for both); returns the port."""
        loop = asyncio.get_running_loop()
        server = self
        self._tcp = await asyncio.start_server(self._tcp_client, host, port, reuse_address=True)
        port = self._tcp.sockets[0].getsockname()[1]

        class UDP(asyncio.DatagramProtocol):
            def connection_made(self, transport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr) -> None:
                asyncio.ensure_future(self._reply(data, addr))

            async def _reply(self, data: bytes, addr) -> None:
                try:
                    out = await server.answer(data)
                except Exception:  # noqa: BLE001 - one bad query must not stop the server
                    log.exception("answering a query from %s", addr)
                    return
                if out is None:
                    return
                if len(out) > UDP_LIMIT:
                    out = _truncated(out)
                self.transport.sendto(out, addr)

        self._udp, _ = await loop.create_datagram_endpoint(UDP, local_addr=(host, port))
        return port

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), 10)
                data = await reader.readexactly(struct.unpack("!H", head)[0])
                out = await self.answer(data)
                if out is None:
                    break
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None


def _truncated(data: bytes) -> bytes:
    """The header and question only, with TC set: "ask me again over TCP"."""
    msg = wire.parse(data)
    msg.flags |= 0x0200
    msg.answers, msg.authority, msg.additional = [], [], []
    return wire.build(msg)
