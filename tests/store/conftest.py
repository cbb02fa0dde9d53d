"""The store backends under test: the embedded TinyDB store and a real etcd, as one member
(``etcd_member``) and as a three-member raft cluster with peer TLS (``etcd_three``, kubeadm's
stacked etcd: the store's client is given every member's URL, as kube-apiserver's
``--etcd-servers``). Both are started once per test session; each test starts from an empty keyspace."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from kubetui.store import Store

#: the backends a cluster can be created with (``--store``)
BACKENDS = [pytest.param("tinydb"), pytest.param("etcd", marks=pytest.mark.etcd)]
#: the store contract suite's: both, etcd also as a three-member cluster
STORES = [*BACKENDS, pytest.param("etcd3", marks=pytest.mark.etcd)]


class Member:
    """A running etcd member and how to reach it as a client."""

    def __init__(self, server: Any, tls: Any, servers: list[Any] | None = None) -> None:
        self.server = server
        self.tls = tls
        self.servers = servers or [server]

    @property
    def endpoint(self) -> str:
        """Every member's client URL, comma-separated (``--etcd-servers``)."""
        return ",".join(s.endpoint for s in self.servers)

    def context(self) -> ssl.SSLContext:
        return self.tls.client_context()

    def wipe(self) -> None:
        """Delete every key (one request): the next test sees an empty keyspace."""
        body = json.dumps({"key": base64.b64encode(b"\0").decode(),
                           "range_end": base64.b64encode(b"\0").decode()}).encode()
        req = urllib.request.Request(self.server.endpoint + "/v3/kv/deleterange", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=10, context=self.context()) as r:
            r.read()


@pytest.fixture(scope="session")
def etcd_member(tmp_path_factory: pytest.TempPathFactory):
    """One etcd member with TLS from a test CA, for the whole session."""
    from kubetui.store.etcdserver import find_binary
    if find_binary("etcd") is None:  # before the marker's gate (a session fixture): same rule, fail in CI
        from kubetui.store.etcdserver import INSTALL_HINT
        from tests.conftest import require_or_skip
        require_or_skip(False, INSTALL_HINT)
    from kubetui.apiserver.certs import ensure_pki
    from kubetui.apiserver.etcdcerts import ensure_etcd_certs
    from kubetui.netutil import free_port
    from kubetui.store.etcdserver import EtcdServer
    d = tmp_path_factory.mktemp("etcd")
    tls = ensure_etcd_certs(ensure_pki(d, "test"))
    server = EtcdServer(d / "etcd", free_port(), free_port(), d / "etcd.log", tls=tls)
    server.start()
    yield Member(server, tls)
    server.stop()


@pytest.fixture(scope="session")
def etcd_three(tmp_path_factory: pytest.TempPathFactory):
    """Three etcd members forming one raft cluster (client and peer TLS from a test CA), for the session."""
    import concurrent.futures
    from kubetui.store.etcdserver import find_binary
    if find_binary("etcd") is None:
        from kubetui.store.etcdserver import INSTALL_HINT
        from tests.conftest import require_or_skip
        require_or_skip(False, INSTALL_HINT)
    from kubetui.apiserver.certs import ensure_pki
    from kubetui.apiserver.etcdcerts import ensure_etcd_certs
    from kubetui.cluster.ha import initial_cluster
    from kubetui.netutil import free_port
    from kubetui.store.etcdserver import EtcdServer
    d = tmp_path_factory.mktemp("etcd3")
    tls = ensure_etcd_certs(ensure_pki(d, "test"))
    members = [EtcdServer(d / f"m{n}" / "etcd", free_port(), free_port(), d / f"m{n}.log", name=f"m{n}",
                          tls=tls, initial_cluster="-") for n in (1, 2, 3)]
    for m in members:
        m.initial_cluster = initial_cluster(members)
    # A member is healthy only once a majority runs: start them together.
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        list(ex.map(lambda m: m.start(60), members))
    yield Member(members[0], tls, members)
    for m in members:
        m.stop()


MakeStore = Callable[..., Awaitable[Any]]


@pytest.fixture(params=STORES)
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeStore]:
    """``await make_store(**options)``: an open store of this test's backend (closed afterwards).

    Options are the TinyDB store's (``history_events``, ``history_seconds``,
    ``clock``, ``watch_queue_limit``); the etcd store takes the same ones.
    """
    opened: list[Any] = []
    member = {"etcd": "etcd_member", "etcd3": "etcd_three"}.get(request.param)
    member = request.getfixturevalue(member) if member else None
    if member is not None:
        member.wipe()

    async def make(**options: Any) -> Any:
        if member is None:
            s = Store(None, **options)
        else:
            from kubetui.store.etcd import EtcdStore
            s = EtcdStore(member.endpoint, ssl_context=member.context(), **options)
        await s.open()
        opened.append(s)
        return s

    make.backend = request.param  # type: ignore[attr-defined]
    yield make
    for s in opened:
        await s.close()
    await asyncio.sleep(0)


@pytest.fixture
async def store(make_store: MakeStore) -> Any:
    return await make_store()
