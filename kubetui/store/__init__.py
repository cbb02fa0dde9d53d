"""kubetui's etcd: a key-value store with revisions, watch and compare-and-swap.

See ``store.py`` for the design and the on-disk layout.
"""

from kubetui.store.errors import (
    Compacted, Corrupt, KeyExists, KeyNotFound, ReadOnly, RevisionMismatch, StoreError, StoreFailed,
)
from kubetui.store.kv import DELETE, PUT, KeyValue, StoreEvent
from kubetui.store.store import Store
from kubetui.store.watch import StoreWatch

__all__ = [
    "DELETE", "PUT", "Compacted", "Corrupt", "KeyExists", "KeyNotFound", "KeyValue", "ReadOnly",
    "RevisionMismatch", "Store", "StoreError", "StoreEvent", "StoreFailed", "StoreWatch",
]
