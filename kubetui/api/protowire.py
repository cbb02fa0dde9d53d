"""Protocol buffers' wire format, the writing half: varints and length-delimited fields.

Kubernetes speaks protobuf to kubectl (``application/vnd.kubernetes.protobuf``
bodies, ``kubetui.apiserver.protobuf``) and serves ``/openapi/v2`` as gnostic's
protobuf (``kubetui.api.openapi.v2``); both write fields with these two
primitives. A leaf: it imports nothing.
"""

from __future__ import annotations


def encode_varint(n: int) -> bytes:
    """A base-128 varint; a negative int64 is written as its 64-bit two's complement, as protobuf does."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num: int, payload: bytes) -> bytes:
    """Field ``num`` with wire type 2 (length-delimited): a string, bytes or an embedded message."""
    return encode_varint(num << 3 | 2) + encode_varint(len(payload)) + payload


def field_varint(num: int, value: int) -> bytes:
    """Field ``num`` with wire type 0 (varint)."""
    return encode_varint(num << 3) + encode_varint(value)
