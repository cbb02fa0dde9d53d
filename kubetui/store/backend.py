"""The interface the API server talks to its store through (upstream: ``k8s.io/apiserver/pkg/storage.Interface``).

kube-apiserver reaches etcd through ``storage.Interface`` (``Create``, ``Get``,
``GetList``, ``GuaranteedUpdate``, ``Delete``, ``Watch``), implemented by
``storage/etcd3/store.go`` and fronted by the watch cache
(``storage/cacher``). kubetui's registry, watch server and ``kubetui store``
commands use the methods below, and two backends provide them:

- ``Store`` (``store.py``): the embedded default, a write-ahead log and a
  TinyDB checkpoint in ``<state>/store/`` (``kubetui up --store tinydb``);
- ``EtcdStore`` (``etcd.py``): a real etcd v3 (``kubetui up --store etcd``),
  keys and JSON values as kube-apiserver writes them.

Both serve reads synchronously from memory (the TinyDB store *is* memory plus
a log; the etcd store keeps a mirror fed by one etcd watch, as the watch cache
does) and acknowledge a write only once it is durable *and* visible to reads,
so a client always reads its own writes.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from kubetui.store.kv import KeyValue, StoreEvent
from kubetui.store.watch import StoreWatch

BACKENDS = ("tinydb", "etcd")


@runtime_checkable
class StoreBackend(Protocol):
    """What a store backend offers the API server (see the module docstring)."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    @property
    def revision(self) -> int: ...          # the last acknowledged write's revision (resourceVersion)

    @property
    def oldest_revision(self) -> int: ...   # watch(prefix, r) works for r >= oldest_revision - 1

    def health(self) -> str | None: ...     # None when serving, else why not (/readyz's etcd check)
    def get(self, key: str, *, copy: bool = True) -> KeyValue | None: ...
    def range(self, prefix: str, *, copy: bool = True) -> list[KeyValue]: ...
    def count(self, prefix: str) -> int: ...
    def history(self, key: str) -> list[StoreEvent]: ...
    def events(self) -> list[StoreEvent]: ...
    def watch(self, prefix: str, after_revision: int) -> StoreWatch: ...   # Compacted if too old
    async def create(self, key: str, value: dict[str, Any]) -> KeyValue: ...   # KeyExists
    async def update(self, key: str, value: dict[str, Any],
                     expected_mod_revision: int | None = None) -> KeyValue: ...  # KeyNotFound, RevisionMismatch
    async def delete(self, key: str, expected_mod_revision: int | None = None) -> KeyValue: ...
    async def checkpoint(self) -> None: ...  # every write so far durable (and, for TinyDB, checkpointed)
