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

import logging
import selectors
import socket
import struct
import threading
import time

from kubetui.dns import wire

log = logging.getLogger(__name__)

UDP_LIMIT = 512
TCP_IDLE_SECONDS = 10.0


class DNSServer:
    """Serves one port (UDP and TCP) from a thread of its own; forwarding runs on short-lived threads.

    One ``selectors`` loop reads the UDP socket, accepts TCP connections and
    reads their queries (a zone lookup takes microseconds, so it answers
    inline); only a query forwarded upstream, which may wait seconds, gets a
    thread. No asyncio: see ``kubetui.agent.blocking``.
    """

    def __init__(self, zone, upstream: tuple[str, int] | None = None, forward_timeout: float = 2.0) -> None:
        self.zone = zone                            # () -> records.Zone
        self.upstream = upstream
        self.forward_timeout = forward_timeout
        self.answered: dict[str, int] = {}          # rcode name -> count (for logs and tests)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._sel: selectors.DefaultSelector | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._conns: dict[socket.socket, list] = {}     # connection -> [buffer, last activity]
        self._wake_r = self._wake_w = None
        self._thread: threading.Thread | None = None
        self._closing = False

    # --- answering -------------------------------------------------------------------------

    def answer(self, data: bytes) -> bytes | None:
        """The reply to one query (``None``: send nothing). Blocks while forwarding upstream."""
        q, reply = self._local(data)
        if reply is not None or q is None:
            return reply
        return self._forwarded(q, data)

    def _local(self, data: bytes) -> tuple[wire.Message | None, bytes | None]:
        """(query, reply) when the reply needs no upstream; (query, None) when it must be forwarded."""
        try:
            q = wire.parse(data)
        except wire.FormatError as e:
            log.debug("malformed query: %s", e)
            if len(data) < 12:
                return None, None
            mid, flags = struct.unpack("!2H", data[:4])
            return None, wire.build(wire.Message(mid, wire.response_flags(flags, wire.FORMERR, False)))
        if q.is_response:
            return None, None
        if q.opcode != 0:
            return q, self._reply(q, wire.NOTIMP, [], [], [], authoritative=False)
        if len(q.questions) != 1:
            return q, self._reply(q, wire.FORMERR, [], [], [], authoritative=False)
        question = q.questions[0]
        zone = self.zone()
        if zone.in_zone(question.name) or (zone.is_reverse(question.name)
                                           and zone.lookup(question.name, question.qtype)[0] == wire.NOERROR):
            rcode, answers, additional = zone.lookup(question.name, question.qtype)
            authority = [zone.soa()] if not answers else []
            return q, self._reply(q, rcode, answers, authority, additional)
        if self.upstream is not None:
            return q, None
        return q, self._reply(q, wire.REFUSED, [], [], [], authoritative=False)

    def _forwarded(self, q: wire.Message, data: bytes) -> bytes:
        forwarded = self._forward(data)
        if forwarded is not None:
            self._count(forwarded[3] & 0xF if len(forwarded) >= 4 else wire.SERVFAIL)
            return forwarded
        return self._reply(q, wire.SERVFAIL, [], [], [], authoritative=False)

    def _reply(self, q: wire.Message, rcode: int, answers, authority, additional,
               authoritative: bool = True) -> bytes:
        self._count(rcode)
        msg = wire.Message(q.id, wire.response_flags(q.flags, rcode, authoritative, self.upstream is not None),
                           list(q.questions), list(answers), list(authority), list(additional))
        return wire.build(msg)

    def _count(self, rcode: int) -> None:
        name = wire.RCODE_NAMES.get(rcode, str(rcode))
        with self._lock:
            self.answered[name] = self.answered.get(name, 0) + 1

    def _forward(self, data: bytes) -> bytes | None:
        assert self.upstream is not None
        deadline = time.monotonic() + self.forward_timeout
        try:
            with socket.socket(socket.AF_INET6 if ":" in self.upstream[0] else socket.AF_INET,
                               socket.SOCK_DGRAM) as s:
                s.connect(self.upstream)
                s.send(data)
                while True:
                    s.settimeout(max(0.0, deadline - time.monotonic()))
                    reply = s.recv(65535)
                    if reply[:2] == data[:2]:
                        return reply
        except OSError as e:        # socket.timeout included
            log.info("forwarding to %s:%d failed: %s", *self.upstream, e or "timed out")
            return None

    # --- transports --------------------------------------------------------------------------

    def start(self, host: str, port: int) -> int:
        """Listen on UDP and TCP ``host:port`` (port 0: any free port, the same for both); returns the port."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((host, port))
        tcp.listen(socket.SOMAXCONN)
        port = tcp.getsockname()[1]
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.bind((host, port))
        except OSError:
            tcp.close()
            udp.close()
            raise
        for s in (tcp, udp):
            s.setblocking(False)
        self._tcp, self._udp = tcp, udp
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel = selectors.DefaultSelector()
        self._sel.register(udp, selectors.EVENT_READ, "udp")
        self._sel.register(tcp, selectors.EVENT_READ, "accept")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._serve, name="dns", daemon=True)
        self._thread.start()
        return port

    def _serve(self) -> None:
        assert self._sel is not None
        while not self._closing:
            for key, _ in self._sel.select(timeout=TCP_IDLE_SECONDS / 2):
                try:
                    if key.data == "udp":
                        self._read_udp()
                    elif key.data == "accept":
                        self._accept()
                    elif key.data == "tcp":
                        self._read_tcp(key.fileobj)
                except Exception:  # noqa: BLE001 - one bad query or client must not stop the server
                    log.exception("serving DNS")
            idle = time.monotonic() - TCP_IDLE_SECONDS
            for conn in [c for c, st in self._conns.items() if st[1] < idle]:
                self._drop(conn)

    def _read_udp(self) -> None:
        assert self._udp is not None
        try:
            data, addr = self._udp.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return
        q, out = self._local(data)
        if out is None and q is not None:
            threading.Thread(target=self._forward_udp, args=(q, data, addr), daemon=True).start()
            return
        self._send_udp(out, addr)

    def _forward_udp(self, q: wire.Message, data: bytes, addr) -> None:
        self._send_udp(self._forwarded(q, data), addr)

    def _send_udp(self, out: bytes | None, addr) -> None:
        if out is None or self._udp is None:
            return
        if len(out) > UDP_LIMIT:
            out = _truncated(out)
        try:
            self._udp.sendto(out, addr)
        except OSError as e:
            log.debug("reply to %s: %s", addr, e)

    def _accept(self) -> None:
        assert self._tcp is not None and self._sel is not None
        try:
            conn, _ = self._tcp.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        self._conns[conn] = [b"", time.monotonic()]
        self._sel.register(conn, selectors.EVENT_READ, "tcp")

    def _read_tcp(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        st = self._conns[conn]
        st[0] += data
        st[1] = time.monotonic()
        while len(st[0]) >= 2:
            n = struct.unpack("!H", st[0][:2])[0]
            if len(st[0]) < 2 + n:
                break
            query, st[0] = st[0][2:2 + n], st[0][2 + n:]
            q, out = self._local(query)
            if out is None and q is not None:
                threading.Thread(target=self._forward_tcp, args=(conn, q, query), daemon=True).start()
                continue
            if out is None:
                self._drop(conn)
                return
            self._send_tcp(conn, out)

    def _forward_tcp(self, conn: socket.socket, q: wire.Message, data: bytes) -> None:
        self._send_tcp(conn, self._forwarded(q, data))

    def _send_tcp(self, conn: socket.socket, out: bytes) -> None:
        """Send one answer (from the loop or a forwarding thread, one at a time); a client that
        does not take it within 2 s is shut down, and the loop drops it when it reads the EOF."""
        payload = struct.pack("!H", len(out)) + out
        with self._send_lock:
            try:
                conn.settimeout(2.0)
                conn.sendall(payload)
                conn.setblocking(False)
            except OSError:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _drop(self, conn: socket.socket) -> None:
        if self._conns.pop(conn, None) is not None and self._sel is not None:
            try:
                self._sel.unregister(conn)
            except (KeyError, ValueError):
                pass
        conn.close()

    def close(self) -> None:
        if self._thread is None:
            return
        self._closing = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(timeout=5)
        self._thread = None
        for conn in list(self._conns):
            self._drop(conn)
        for s in (self._udp, self._tcp, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        if self._sel is not None:
            self._sel.close()
        self._udp = self._tcp = self._wake_r = self._wake_w = self._sel = None


def _truncated(data: bytes) -> bytes:
    """The header and question only, with TC set: "ask me again over TCP"."""
    msg = wire.parse(data)
    msg.flags |= 0x0200
    msg.answers, msg.authority, msg.additional = [], [], []
    return wire.build(msg)
