"""The store's own errors, as etcd reports them (upstream: etcd's ``rpctypes``
errors and the ``Succeeded=false`` answer of a transaction).

These are *storage* failures, not API errors: the API server's registry turns
``KeyExists`` into ``AlreadyExists`` (409), ``KeyNotFound`` into ``NotFound``
(404), ``RevisionMismatch`` into ``Conflict`` (409, "the object has been
modified") and ``Compacted`` into ``Gone`` (410 Expired), exactly as
kube-apiserver's ``storage/errors.go`` does with etcd's answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubetui.store.kv import KeyValue


class StoreError(Exception):
    """Base class of every store failure."""


class KeyExists(StoreError):
    """``create`` of a key that already holds a value."""

    def __init__(self, key: str, kv: "KeyValue") -> None:
        super().__init__(f"key {key} already exists (mod_revision {kv.mod_revision})")
        self.key = key
        self.kv = kv


class KeyNotFound(StoreError):
    """``update`` or ``delete`` of a key that holds nothing."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key {key} not found")
        self.key = key


class RevisionMismatch(StoreError):
    """A compare-and-swap lost: the key was modified since the caller read it.

    ``kv`` is the current value, so the caller can report it or retry
    (kube-apiserver's ``GuaranteedUpdate`` retries with it).
    """

    def __init__(self, key: str, expected: int, kv: "KeyValue") -> None:
        super().__init__(
            f"key {key}: expected mod_revision {expected}, current is {kv.mod_revision}")
        self.key = key
        self.expected = expected
        self.kv = kv


class Compacted(StoreError):
    """A watch asked for events the store no longer keeps.

    Either ``after_revision`` is older than the event history (etcd's
    ``ErrCompacted``), or the watcher fell so far behind that its queue
    overflowed (``overflow=True``). Either way the client must relist and
    watch again from the list's revision, as client-go's reflector does.
    """

    def __init__(self, after_revision: int, oldest_revision: int, *, overflow: bool = False) -> None:
        if overflow:
            msg = (f"watch fell too far behind at revision {after_revision} and was closed; "
                   "relist and watch again")
        else:
            msg = (f"required revision {after_revision + 1} has been compacted; "
                   f"oldest revision kept is {oldest_revision}")
        super().__init__(msg)
        self.after_revision = after_revision
        self.oldest_revision = oldest_revision
        self.overflow = overflow


class Corrupt(StoreError):
    """The files on disk cannot be read back (anything worse than a torn last record)."""


class ReadOnly(StoreError):
    """A write to a store opened read-only (``kubetui store ...`` inspecting a file)."""


class StoreFailed(StoreError):
    """Writing the log failed (disk full, I/O error); the store refuses further writes,
    since it can no longer tell which revisions reached the disk."""
