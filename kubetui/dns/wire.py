"""DNS messages on the wire (RFC 1035 §4), by hand: the header, questions and resource records.

Upstream: what CoreDNS gets from ``miekg/dns``. Only what a cluster DNS
needs: parse a query (with name compression, RFC 1035 §4.1.4), build a
response with A, AAAA, CNAME, PTR, SRV (RFC 2782) and SOA records. Names in
responses are written uncompressed, which every resolver accepts.
Standard library only: it runs in a pod from the node image.
"""

from __future__ import annotations

import socket
import struct

# record types (RFC 1035 §3.2.2, RFC 3596, RFC 2782)
A, NS, CNAME, SOA, PTR, TXT, AAAA, SRV, OPT, ANY = 1, 2, 5, 6, 12, 16, 28, 33, 41, 255
TYPE_NAMES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", PTR: "PTR", TXT: "TXT", AAAA: "AAAA", SRV: "SRV",
              OPT: "OPT", ANY: "ANY"}
IN = 1
# response codes (RFC 1035 §4.1.1)
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


class FormatError(ValueError):
    pass


class _Value:
    """Equality and repr by fields, as a dataclass would give (``dataclasses`` imports ``inspect``
    and ``ast``: a megabyte of the DNS pod's memory)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self.__slots__)})"


class Question(_Value):
    __slots__ = ("name", "qtype", "qclass")

    def __init__(self, name: str, qtype: int, qclass: int = IN) -> None:
        self.name = name            # lower-case, no trailing dot: "web.default.svc.cluster.local"
        self.qtype = qtype
        self.qclass = qclass


class Record(_Value):
    __slots__ = ("name", "rtype", "ttl", "data")

    def __init__(self, name: str, rtype: int, ttl: int, data: object) -> None:
        self.name, self.rtype, self.ttl = name, rtype, ttl
        self.data = data            # A/AAAA: "10.96.0.10"; CNAME/PTR: name; SRV: (prio, weight, port, target); SOA: tuple


class Message(_Value):
    __slots__ = ("id", "flags", "questions", "answers", "authority", "additional")

    def __init__(self, id: int, flags: int = 0, questions: list[Question] | None = None,  # noqa: A002
                 answers: list[Record] | None = None, authority: list[Record] | None = None,
                 additional: list[Record] | None = None) -> None:
        self.id, self.flags = id, flags
        self.questions = questions if questions is not None else []
        self.answers = answers if answers is not None else []
        self.authority = authority if authority is not None else []
        self.additional = additional if additional is not None else []

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    @property
    def is_response(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF


def read_name(data: bytes, offset: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at ``offset``; returns it and the offset after it."""
    labels: list[str] = []
    end = None
    jumps = 0
    while True:
        if offset >= len(data):
            raise FormatError("name runs past the end of the message")
        n = data[offset]
        if n & 0xC0 == 0xC0:                       # pointer (§4.1.4)
            if offset + 1 >= len(data):
                raise FormatError("truncated name pointer")
            if end is None:
                end = offset + 2
            offset = ((n & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            if jumps > 64:
                raise FormatError("name pointer loop")
            continue
        if n & 0xC0:
            raise FormatError("unknown label type")
        offset += 1
        if n == 0:
            break
        labels.append(data[offset:offset + n].decode("ascii", errors="replace"))
        offset += n
    name = ".".join(labels).lower()
    if len(name) > 253:
        raise FormatError("name longer than 253 characters")
    return name, (end if end is not None else offset)


def encode_name(name: str) -> bytes:
    out = b""
    for label in [x for x in name.rstrip(".").split(".") if x]:
        raw = label.encode("ascii")
        if len(raw) > 63:
            raise ValueError(f"label {label!r} longer than 63 bytes")
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def parse(data: bytes) -> Message:
    if len(data) < 12:
        raise FormatError("message shorter than its 12-byte header")
    mid, flags, qd, an, ns, ar = struct.unpack("!6H", data[:12])
    msg = Message(mid, flags)
    off = 12
    for _ in range(qd):
        name, off = read_name(data, off)
        if off + 4 > len(data):
            raise FormatError("truncated question")
        qtype, qclass = struct.unpack("!2H", data[off:off + 4])
        off += 4
        msg.questions.append(Question(name, qtype, qclass))
    for section, count in ((msg.answers, an), (msg.authority, ns), (msg.additional, ar)):
        for _ in range(count):
            name, off = read_name(data, off)
            if off + 10 > len(data):
                raise FormatError("truncated record")
            rtype, _cls, ttl, rdlen = struct.unpack("!2HIH", data[off:off + 10])
            off += 10
            rdata = data[off:off + rdlen]
            section.append(Record(name, rtype, ttl, _decode_rdata(data, off, rtype, rdata)))
            off += rdlen
    return msg


def packed_ip(ip: str, family: int) -> bytes:
    """The address's bytes; ``ValueError`` for anything that is not one (as ``ipaddress`` raises)."""
    try:
        return socket.inet_pton(family, ip)
    except OSError:
        raise ValueError(f"not an IPv{4 if family == socket.AF_INET else 6} address: {ip!r}") from None


def _decode_rdata(msg: bytes, off: int, rtype: int, rdata: bytes) -> object:
    if rtype == A and len(rdata) == 4:
        return socket.inet_ntop(socket.AF_INET, rdata)
    if rtype == AAAA and len(rdata) == 16:
        return socket.inet_ntop(socket.AF_INET6, rdata)
    if rtype in (CNAME, PTR, NS):
        return read_name(msg, off)[0]
    if rtype == SRV and len(rdata) >= 7:
        prio, weight, port = struct.unpack("!3H", rdata[:6])
        return (prio, weight, port, read_name(msg, off + 6)[0])
    if rtype == SOA:
        mname, o = read_name(msg, off)
        rname, o = read_name(msg, o)
        return (mname, rname, *struct.unpack("!5I", msg[o:o + 20]))
    return rdata


def _encode_rdata(r: Record) -> bytes:
    if r.rtype == A:
        return packed_ip(str(r.data), socket.AF_INET)
    if r.rtype == AAAA:
        return packed_ip(str(r.data), socket.AF_INET6)
    if r.rtype in (CNAME, PTR, NS):
        return encode_name(str(r.data))
    if r.rtype == SRV:
        prio, weight, port, target = r.data  # type: ignore[misc]
        return struct.pack("!3H", prio, weight, port) + encode_name(target)
    if r.rtype == SOA:
        mname, rname, serial, refresh, retry, expire, minimum = r.data  # type: ignore[misc]
        return encode_name(mname) + encode_name(rname) + struct.pack("!5I", serial, refresh, retry, expire, minimum)
    if isinstance(r.data, bytes):
        return r.data
    raise ValueError(f"cannot encode record type {r.rtype}")


def build(msg: Message) -> bytes:
    out = [struct.pack("!6H", msg.id, msg.flags, len(msg.questions), len(msg.answers), len(msg.authority),
                       len(msg.additional))]
    for q in msg.questions:
        out.append(encode_name(q.name) + struct.pack("!2H", q.qtype, q.qclass))
    for r in (*msg.answers, *msg.authority, *msg.additional):
        rdata = _encode_rdata(r)
        out.append(encode_name(r.name) + struct.pack("!2HIH", r.rtype, IN, r.ttl, len(rdata)) + rdata)
    return b"".join(out)


def response_flags(query_flags: int, rcode: int, authoritative: bool = True, recursion_available: bool = False) -> int:
    """QR=1, the query's opcode and RD bit, AA for our own zone, RA when we forward, and the rcode."""
    flags = 0x8000 | (query_flags & 0x7800) | (query_flags & 0x0100) | (rcode & 0xF)
    if authoritative:
        flags |= 0x0400
    if recursion_available:
        flags |= 0x0080
    return flags


def query(name: str, qtype: int, mid: int = 0x1234, recursion_desired: bool = True) -> bytes:
    """A query message (for tests and the forwarder's health checks)."""
    return build(Message(mid, 0x0100 if recursion_desired else 0, [Question(name, qtype)]))
