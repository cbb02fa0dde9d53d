"""etcd's client retries a repeatable read while etcd is between leaders; never a write, never quorum loss.

Upstream's clientv3 retry interceptor retries Range requests on ``codes.Unavailable``
(``etcdserver: leader changed``, ``etcdserver: no leader``), so a ``kubectl get`` during an
election waits it out instead of failing. A lost quorum (``request timed out``) still fails.
"""

from __future__ import annotations

import asyncio

import pytest

from kubetui.store import etcd as etcdmod
from kubetui.store.etcd import EtcdStore, EtcdUnavailable


def _store(errors: list[str]) -> tuple[EtcdStore, list[str]]:
    store = EtcdStore("https://127.0.0.1:1")
    calls: list[str] = []

    async def post(path, body):
        calls.append(path)
        if errors:
            raise EtcdUnavailable(errors.pop(0))
        return {"header": {"revision": "0"}}
    store._post = post  # type: ignore[method-assign]
    return store, calls


@pytest.mark.parametrize("error", ["etcdserver: leader changed", "etcdserver: no leader"])
def test_a_read_during_an_election_is_retried_until_the_new_leader_answers(error) -> None:
    store, calls = _store([error, error])
    store._opened = True
    asyncio.run(store.consistent_read())     # a GET without resourceVersion: a quorum read first
    assert len(calls) == 3


def test_quorum_loss_is_not_retried_its_error_reaches_the_caller() -> None:
    store, calls = _store(["etcdserver: request timed out"])
    with pytest.raises(EtcdUnavailable, match="request timed out"):
        asyncio.run(store._repeatable("/v3/kv/range", {}))
    assert len(calls) == 1


def test_an_election_that_never_ends_gives_up(monkeypatch) -> None:
    monkeypatch.setattr(etcdmod, "READ_RETRY_SECONDS", 0.1)
    store, calls = _store(["etcdserver: no leader"] * 100)
    with pytest.raises(EtcdUnavailable, match="no leader"):
        asyncio.run(store._repeatable("/v3/kv/range", {}))
    assert 2 <= len(calls) < 10
