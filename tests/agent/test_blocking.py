"""The blocking reflector (the DNS pod's informer): the same list/watch rules as the asyncio one."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from kubetui.agent.blocking import BlockingReflector
from kubetui.agent.httpwire import APIError, query, split_server


def svc(name: str, rv: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": rv}}


class ScriptedAPI:
    """``get`` returns the next list; ``watch`` plays the next script (events, then an error or an end)."""

    def __init__(self, lists: list[dict], watches: list[list]) -> None:
        self.lists, self.watches = lists, watches
        self.gets: list[str] = []
        self.watch_params: list[dict] = []
        self.done = threading.Event()

    def get(self, path: str) -> dict:
        self.gets.append(path)
        return self.lists.pop(0)

    def watch(self, path: str, params: dict, opened=None):
        self.watch_params.append(dict(params))
        if not self.watches:
            self.done.set()
            threading.Event().wait(30)      # blocks like a quiet watch until the test stops
            return
        for item in self.watches.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item


def run(reflector: BlockingReflector, api: ScriptedAPI) -> None:
    reflector.start()
    assert api.done.wait(10), "the script did not play to its end"
    reflector._stop.set()


def test_lists_watches_applies_events_and_resumes_from_bookmarks():
    changes = []
    api = ScriptedAPI([{"metadata": {"resourceVersion": "10"}, "items": [svc("a", "9")]}],
                      [[("ADDED", svc("b", "11")), ("BOOKMARK", {"metadata": {"resourceVersion": "15"}}),
                        ("MODIFIED", svc("a", "16")), ("DELETED", svc("b", "17"))]])
    r = BlockingReflector(api, "/api/v1/services", params={"labelSelector": "x=y"},
                          on_change=lambda: changes.append(1))
    run(r, api)
    assert api.gets == ["/api/v1/services?labelSelector=x%3Dy"]
    assert [p["resourceVersion"] for p in api.watch_params] == ["10", "17"]   # the stream ended: no relist
    assert api.watch_params[0]["allowWatchBookmarks"] == "true"
    assert sorted(r.store) == ["default/a"] and r.store["default/a"]["metadata"]["resourceVersion"] == "16"
    assert r.synced.is_set() and len(changes) == 4       # the list, then three events (not the bookmark)


def test_410_gone_relists_at_once_and_other_errors_back_off():
    api = ScriptedAPI([{"metadata": {"resourceVersion": "5"}, "items": [svc("a", "4")]},
                       {"metadata": {"resourceVersion": "30"}, "items": [svc("c", "29")]},
                       {"metadata": {"resourceVersion": "40"}, "items": [svc("c", "29")]}],
                      [[APIError(410, "Expired", "too old resource version: 5 (20)")],
                       [("ADDED", svc("d", "31")), APIError(500, "InternalError", "boom")]])
    r = BlockingReflector(api, "/api/v1/services", rand=lambda: 0.0)
    waits = []
    r._stop.wait = lambda t=None: waits.append(t) or False        # record backoffs instead of sleeping
    run(r, api)
    assert len(api.gets) == 3
    assert waits == [0.8]                     # 410: no wait; the 500: the first backoff step
    assert sorted(r.store) == ["default/c"]   # the relist replaced what the watch had added
    assert r._next_backoff == 1.6


def test_stop_ends_a_watch_blocked_on_its_socket():
    import socket

    a, b = socket.socketpair()

    class QuietAPI:
        def get(self, path):
            return {"metadata": {"resourceVersion": "1"}, "items": []}

        def watch(self, path, params, opened=None):
            opened(a)
            a.recv(1)       # blocks until the reflector shuts the socket down
            return
            yield

    r = BlockingReflector(QuietAPI(), "/api/v1/services")
    r.start()
    assert r.synced.wait(5)
    r.stop()
    assert not r._thread.is_alive()
    b.close()


def test_query_and_server_parsing_match_urllib():
    from urllib.parse import urlencode
    params = {"fieldSelector": "spec.nodeName=node-1,metadata.name!=x y", "resourceVersion": "12"}
    assert query("/api/v1/pods", **params) == "/api/v1/pods?" + urlencode(params).replace("+", "%20")
    assert split_server("https://192.168.1.1:6443") == ("192.168.1.1", 6443, True)


def test_the_dns_server_imports_no_asyncio():
    """The kube-dns pod is a second interpreter on its node: asyncio would cost it ~4 MiB,
    argparse with gettext's locale tables 0.7 MiB (parsing its flags loads them)."""
    code = ("import sys; before = set(sys.modules); import kubetui.dns.__main__ as m; "
            "m.parse_args(['--api-server', 'https://10.96.0.1:443']); "
            "print(sorted(m for m in ('asyncio', 'inspect', 'typing', 'dataclasses', 'ipaddress', "
            "'argparse', 'gettext', 'locale') if m in set(sys.modules) - before))")
    root = str(Path(__file__).resolve().parents[2])
    # -S: no site-packages .pth files (an editable install's finder imports modules of its own)
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"}).stdout
    assert out.strip() == "[]"
