"""Key-values and events, shaped like etcd's ``mvccpb.KeyValue`` and ``mvccpb.Event``.

etcd keeps, for every key, the revision that created it, the revision that
last modified it and how many times it was written (``version``). kube-apiserver
reads ``mod_revision`` as the object's ``metadata.resourceVersion``; here the
store stamps it into the value itself, as the apiserver's versioner does on
every object it decodes.

Like etcd, the store keeps values *encoded* (JSON bytes, exactly what the
write-ahead log holds) and decodes on demand. That keeps a store of thousands
of Pods small, keeps Python's garbage collector from walking millions of
nested dicts, and gives every reader its own copy for the price of one
``json.loads``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

PUT = "PUT"
DELETE = "DELETE"


# one encoder for every write (``json.dumps`` with options builds a new one per call)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_value(value: dict[str, Any]) -> bytes:
    """The canonical JSON of a value (compact, UTF-8, no NaN)."""
    return _ENCODER.encode(value).encode()


class KeyValue:
    """One key at one revision: ``KeyValue(key, value, create_revision, mod_revision, version)``.

    ``value`` is a Kubernetes object (a ``dict``) whose
    ``metadata.resourceVersion`` equals ``str(mod_revision)``; it is decoded
    from ``raw`` (its JSON bytes) on first access and then kept, so a
    KeyValue's ``value`` belongs to whoever holds that KeyValue: ``get``,
    ``range`` and the write verbs hand out fresh KeyValues, watch events are
    shared between watchers and must be treated as read-only.

    A deleted key's KeyValue (in a DELETE event, or returned by ``delete``)
    carries the last value stamped with the deletion revision and
    ``version == 0``, as etcd reports a deleted key.
    """

    __slots__ = ("key", "create_revision", "mod_revision", "version", "_raw", "_value")

    def __init__(self, key: str, value: dict[str, Any] | None, create_revision: int,
                 mod_revision: int, version: int, *, raw: bytes | None = None) -> None:
        if value is None and raw is None:
            raise TypeError("KeyValue needs a value or its raw JSON")
        self.key = key
        self.create_revision = create_revision
        self.mod_revision = mod_revision
        self.version = version
        self._raw = raw
        self._value = value

    @property
    def value(self) -> dict[str, Any]:
        if self._value is None:
            assert self._raw is not None
            self._value = json.loads(self._raw)
        return self._value

    def peek(self) -> dict[str, Any]:
        """The value for one read, decoded without keeping it (unless it already was).

        A reader that only encodes the value again (the API server answering a
        GET) leaves a shared KeyValue as small as the store keeps it. Read-only.
        """
        return self._value if self._value is not None else json.loads(self.raw)

    @property
    def raw(self) -> bytes:
        """The value's JSON, as stored in the log and checkpoints."""
        if self._raw is None:
            self._raw = encode_value(self.value)
        return self._raw

    def fresh(self) -> "KeyValue":
        """The same KeyValue, whose ``value`` will be a private copy."""
        return KeyValue(self.key, None, self.create_revision, self.mod_revision, self.version, raw=self.raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyValue):
            return NotImplemented
        return ((self.key, self.create_revision, self.mod_revision, self.version)
                == (other.key, other.create_revision, other.mod_revision, other.version)
                and (self.raw == other.raw or self.value == other.value))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"KeyValue(key={self.key!r}, create_revision={self.create_revision}, "
                f"mod_revision={self.mod_revision}, version={self.version}, value={self.value!r})")


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """One change: ``type`` is ``"PUT"`` or ``"DELETE"``.

    ``prev_kv`` is the key's value before the change (``None`` for a create),
    which kube-apiserver needs to tell a watcher that an object *left* its
    label selector. Events are shared by every watcher: treat them as
    read-only.
    """

    type: str
    kv: KeyValue
    prev_kv: KeyValue | None
    revision: int


def stamped(value: dict[str, Any], revision: int) -> dict[str, Any]:
    """``value`` with ``metadata.resourceVersion`` set to ``str(revision)``.

    Copies only the top level and ``metadata`` (the rest is shared), so the
    caller's dict is never modified.
    """
    if not isinstance(value, dict):
        raise TypeError(f"store values are JSON objects (dict), not {type(value).__name__}")
    out = dict(value)
    meta = out.get("metadata")
    out["metadata"] = dict(meta) if isinstance(meta, dict) else {}
    out["metadata"]["resourceVersion"] = str(revision)
    return out
