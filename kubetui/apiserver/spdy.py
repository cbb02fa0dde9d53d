"""SPDY/3.1 framing, as much as ``kubectl port-forward`` speaks (upstream: ``moby/spdystream``,
used by ``k8s.io/apimachinery/pkg/util/httpstream/spdy``).

SPDY multiplexes many bidirectional *streams* over one connection. kubectl opens two
streams per forwarded TCP connection (an error stream and a data stream, tied by a
``requestID`` header), so SPDY is what lets one ``kubectl port-forward`` carry many
connections at once. Since Kubernetes 1.31 kubectl sends the same SPDY bytes inside
WebSocket binary messages (subprotocol ``SPDY/3.1+portforward.k8s.io``); the framing
is identical either way.

Frames (all integers big-endian):

- control: ``1 | version(15)=3 | type(16) | flags(8) | length(24) | payload``
  (SYN_STREAM 1, SYN_REPLY 2, RST_STREAM 3, SETTINGS 4, PING 6, GOAWAY 7,
  HEADERS 8, WINDOW_UPDATE 9);
- data: ``0 | stream id(31) | flags(8) | length(24) | payload``; flag FIN (1) ends the
  sender's half of the stream.

Header blocks are zlib-compressed with the SPDY/3 dictionary, one compression
context per direction for the whole connection (so frames must be compressed in
the order they are sent), flushed with ``Z_SYNC_FLUSH``.
"""

from __future__ import annotations

import struct
import zlib

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
VERSION = 3

# The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00 section 2.6.10.1): these
# length-prefixed words, then a run of common values.
_WORDS = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
          "accept-ranges age allow authorization cache-control connection content-base content-encoding "
          "content-language content-length content-location content-md5 content-range content-type date "
          "etag expect expires from host if-match if-modified-since if-none-match if-range "
          "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
          "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
          "user-agent vary via warning www-authenticate method get status").split() + [
    "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
         "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
         "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
         "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
         "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
         "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3."""


def control(ftype: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload


def data(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
    return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload


class Framer:
    """Parses incoming bytes into frames and builds outgoing ones (one per connection)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def feed(self, chunk: bytes) -> list[tuple]:
        """Add bytes; return the complete frames: ``("data", sid, flags, payload)`` or
        ``("control", type, flags, payload)``."""
        self._buf += chunk
        out = []
        while len(self._buf) >= 8:
            first, second = struct.unpack_from(">II", self._buf)
            length = second & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                out.append(("control", first & 0xFFFF, second >> 24, payload))
            else:
                out.append(("data", first & 0x7FFFFFFF, second >> 24, payload))
        return out

    def headers(self, block: bytes) -> dict[str, str]:
        """Decompress a header block (names lowercased, as SPDY/3 requires)."""
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as e:
            raise ProtocolError(f"bad SPDY header block: {e}") from None
        (n,), pos, out = struct.unpack_from(">I", raw), 4, {}
        for _ in range(n):
            (klen,) = struct.unpack_from(">I", raw, pos)
            key = raw[pos + 4:pos + 4 + klen].decode("latin-1")
            pos += 4 + klen
            (vlen,) = struct.unpack_from(">I", raw, pos)
            out[key.lower()] = raw[pos + 4:pos + 4 + vlen].decode("latin-1")
            pos += 4 + vlen
        return out

    def header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
            for k, v in headers.items())
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None, fin: bool = False) -> bytes:
        return control(SYN_REPLY, FLAG_FIN if fin else 0,
                       struct.pack(">I", stream_id & 0x7FFFFFFF) + self.header_block(headers or {}))


def syn_stream_id(payload: bytes) -> tuple[int, bytes]:
    """``(stream id, header block)`` of a SYN_STREAM payload."""
    if len(payload) < 10:
        raise ProtocolError("short SYN_STREAM")
    return struct.unpack_from(">I", payload)[0] & 0x7FFFFFFF, payload[10:]


def rst_stream(stream_id: int, status: int = 5) -> bytes:
    """RST_STREAM; status 5 is CANCEL."""
    return control(RST_STREAM, 0, struct.pack(">II", stream_id & 0x7FFFFFFF, status))
