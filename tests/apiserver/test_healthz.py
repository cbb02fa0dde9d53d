"""/livez, /readyz, /healthz: named checks, verbose, exclude, one check, failure, as kube-apiserver answers."""

from __future__ import annotations

import aiohttp
import pytest
import pytest_asyncio
from multidict import MultiDict

from kubetui.apiserver.healthz import Check, evaluate

from tests.apiserver.test_http_support import start_cluster

OK, BAD = (lambda: None), (lambda: "store closed")


def test_all_passing_is_ok_and_verbose_lists_each_check():
    checks = [Check("ping", OK), Check("etcd", OK)]
    assert evaluate("readyz", checks, [], MultiDict()) == (200, "ok")
    assert evaluate("readyz", checks, [], MultiDict(verbose="")).text == "[+]ping ok\n[+]etcd ok\nreadyz check passed\n"


def test_a_failing_check_is_500_with_its_reason_withheld():
    answer = evaluate("livez", [Check("ping", OK), Check("etcd", BAD)], [], MultiDict())
    assert answer.status == 500
    assert answer.text == "[+]ping ok\n[-]etcd failed: reason withheld\nlivez check failed\n"
    excluded = evaluate("livez", [Check("ping", OK), Check("etcd", BAD)], [], MultiDict(exclude="etcd", verbose="1"))
    assert excluded.status == 200 and "[+]etcd excluded: ok" in excluded.text


def test_one_check_by_path():
    checks = [Check("ping", OK), Check("etcd", BAD), Check("poststarthook/rbac/bootstrap-roles", OK)]
    assert evaluate("readyz", checks, ["ping"], {}) == (200, "ok")
    assert evaluate("readyz", checks, ["etcd"], {}) == (500, "internal server error: store closed\n")
    assert evaluate("readyz", checks, ["poststarthook", "rbac", "bootstrap-roles"], {}).status == 200
    assert evaluate("readyz", checks, ["nope"], {}).status == 404


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("healthz"))
    yield c
    await c.stop()


@pytest.mark.asyncio(loop_scope="module")
async def test_served_to_anyone_and_readyz_fails_when_the_store_stops(cluster):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as anon:
        async with anon.get(cluster.server.url + "/readyz?verbose") as r:
            text = await r.text()
            assert r.status == 200 and text.endswith("readyz check passed\n"), text
            assert "[+]etcd ok" in text and "[+]shutdown ok" in text
        async with anon.get(cluster.server.url + "/livez/etcd") as r:
            assert (r.status, await r.text()) == (200, "ok")
        cluster.store._failed = OSError("disk full")  # what the store's writer sets when fsync fails
        try:
            async with anon.get(cluster.server.url + "/readyz") as r:
                assert r.status == 500 and "[-]etcd failed: reason withheld" in await r.text()
        finally:
            cluster.store._failed = None
