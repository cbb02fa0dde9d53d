"""Hosted mode: one cluster, three learners from a roster, each logged in to a web TUI as themselves.

The web sessions are driven over the same websocket textual-serve's page
uses (the app's terminal output arrives as binary frames); what a learner's
TUI shows is what their own credential may list.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.classroom.test_class_server import Served, _free_port
from tests.cluster_process import running_cluster

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")
ROSTER = "name,email\nAda Lovelace,ada@example.org\nbob,bob@example.org\ncarol,carol@example.org\n"


@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hosted")
    with running_cluster(tmp / "cluster", nodes=1):
        (tmp / "roster.csv").write_text(ROSTER)
        s = Served(tmp / "class", _free_port())
        s.proc = subprocess.Popen(
            [sys.executable, "-m", "kubetui", "class", "serve", "--hosted", "--roster", str(tmp / "roster.csv"),
             "--state-dir", str(tmp / "cluster"), "--dir", str(s.folder), "--host", "127.0.0.1",
             "--port", str(s.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while not (s.folder / "login-codes.csv").exists() or not _listening(s.port):
            assert s.proc.poll() is None, s.proc.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        codes = {}
        for line in (s.folder / "login-codes.csv").read_text().splitlines()[1:]:
            name, ns, code = line.split(",")
            codes[name] = (ns, code)
        yield s, codes
        s.stop()


def _listening(port: int) -> bool:
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


async def _session(s: Served, code: str, want: str, others: list[str]) -> str:
    ctx = ssl.create_default_context(cafile=str(s.folder / "pki" / "ca.crt"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
        async with http.get(f"{s.url}/tui/ws") as r:
            assert r.status == 401                                  # no session: no TUI
        async with http.post(f"{s.url}/login", data={"code": code}, allow_redirects=False) as r:
            assert r.status == 302
            cookie = r.cookies["session"]
            assert cookie["secure"] and cookie["httponly"]
            session = cookie.value
        async with http.post(f"{s.url}/login", data={"code": code}, allow_redirects=False) as r:
            assert r.status == 401                                  # the code was one-time
        out = bytearray()
        hdr = {"Cookie": f"session={session}"}
        async with http.ws_connect(f"{s.url}/tui/ws?width=120&height=40", headers=hdr) as ws:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    m = await ws.receive(timeout=2)
                except asyncio.TimeoutError:
                    continue
                if m.type == aiohttp.WSMsgType.BINARY:
                    out.extend(m.data)
                    if want.encode() in ANSI.sub(b"", bytes(out)):
                        break
                elif m.type != aiohttp.WSMsgType.TEXT:
                    break
        return ANSI.sub(b"", bytes(out)).decode("utf-8", "replace")


def test_three_learners_each_see_only_their_own_namespace(hosted):
    s, codes = hosted
    names = sorted(codes)
    assert [codes[n][0] for n in names] == ["class-ada-lovelace", "class-bob", "class-carol"]

    async def all_three():
        return await asyncio.gather(*(_session(s, codes[n][1], codes[n][0], [codes[o][0] for o in names if o != n])
                                      for n in names))
    screens = asyncio.run(all_three())
    for n, text in zip(names, screens):
        assert codes[n][0] in text, text[-2000:]
        for o in names:
            if o != n:
                assert codes[o][0] not in text


def test_a_learners_credential_is_refused_outside_their_namespace(hosted):
    from kubetui.api.errors import Forbidden
    from kubetui.client.http import HTTPClient

    s, codes = hosted

    async def check():
        bob = HTTPClient.from_kubeconfig(s.folder / "users" / "class-bob.kubeconfig")
        try:
            await bob.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                             namespace="class-bob")      # a plain pod fits the quota: the LimitRange defaults it
            with pytest.raises(Forbidden):
                await bob.list("pods", namespace="class-carol")
            with pytest.raises(Forbidden):
                await bob.delete("resourcequotas", "class-quota", namespace="class-bob")
        finally:
            await bob.close()
    asyncio.run(check())


@pytest.mark.slow
def test_three_learners_in_chromium_log_in_and_see_only_their_namespace(tmp_path_factory):
    """The issue's browser test: each learner types their one-time code into /login in their own browser."""
    from tests.tui.test_web import ANSI as WEB_ANSI, _browser, _need_browser

    _need_browser()
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("hosted-web")
    with running_cluster(tmp / "cluster", nodes=1):
        (tmp / "roster.csv").write_text(ROSTER)
        s = Served(tmp / "class", _free_port())
        s.proc = subprocess.Popen(
            [sys.executable, "-m", "kubetui", "class", "serve", "--hosted", "--roster", str(tmp / "roster.csv"),
             "--state-dir", str(tmp / "cluster"), "--dir", str(s.folder), "--host", "127.0.0.1",
             "--port", str(s.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while not (s.folder / "login-codes.csv").exists() or not _listening(s.port):
                assert s.proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
            codes = {ln.split(",")[0]: ln.split(",")[1:] for ln in
                     (s.folder / "login-codes.csv").read_text().splitlines()[1:]}
            with sync_playwright() as p:
                browser = _browser(p)
                try:
                    pages = {}
                    for name, (ns, code) in codes.items():
                        ctx = browser.new_context(ignore_https_errors=True)   # the class CA is not the browser's
                        page = ctx.new_page()
                        out = bytearray()
                        page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda r: r.abort())
                        page.on("websocket", lambda ws, out=out: ws.on(
                            "framereceived", lambda d, out=out: out.extend(d) if isinstance(d, bytes) else None))
                        page.goto(f"{s.url}/tui/")                 # no session yet: sent to /login
                        assert page.url.endswith("/login")
                        page.fill("input[name=code]", code)
                        page.click("button")
                        page.wait_for_selector("body.-first-byte", timeout=30000)
                        pages[name] = (page, out, ns)
                    for name, (page, out, ns) in pages.items():
                        deadline = time.monotonic() + 60
                        while ns.encode() not in WEB_ANSI.sub(b"", bytes(out)) and time.monotonic() < deadline:
                            page.wait_for_timeout(100)
                        text = WEB_ANSI.sub(b"", bytes(out)).decode("utf-8", "replace")
                        assert ns in text, text[-2000:]
                        assert not any(other in text for o, (other, _) in codes.items() if o != name)
                finally:
                    browser.close()
        finally:
            s.stop()


def test_resetting_one_learners_lab_leaves_the_others_untouched(hosted):
    from kubetui.client.http import HTTPClient

    s, codes = hosted
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mine"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}

    async def make(user, ns):
        c = HTTPClient.from_kubeconfig(s.folder / "users" / f"{ns}.kubeconfig")
        try:
            await c.create("pods", pod, namespace=ns)
            await c.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}},
                           namespace=ns)
        finally:
            await c.close()

    async def names(ns):
        c = HTTPClient.from_kubeconfig(s.folder / "users" / f"{ns}.kubeconfig")
        try:
            return ({p["metadata"]["name"] for p in (await c.list("pods", namespace=ns))["items"]},
                    {p["metadata"]["name"] for p in (await c.list("configmaps", namespace=ns))["items"]},
                    {q["metadata"]["name"] for q in (await c.list("resourcequotas", namespace=ns))["items"]})
        finally:
            await c.close()

    asyncio.run(make("Ada Lovelace", "class-ada-lovelace"))
    r = subprocess.run([sys.executable, "-m", "kubetui", "class", "reset", "bob", "--dir", str(s.folder)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "pods/p" in r.stdout, r.stdout + r.stderr
    pods, cms, quotas = asyncio.run(names("class-bob"))
    assert "p" not in pods and quotas == {"class-quota"}
    pods, cms, quotas = asyncio.run(names("class-ada-lovelace"))
    assert "mine" in pods and "cfg" in cms                           # the other learner's lab is untouched


def test_revoking_a_hosted_learner_ends_their_session_and_cluster_credential(hosted):
    from kubetui.api.errors import Unauthorized
    from kubetui.client.http import HTTPClient

    s, codes = hosted
    r = subprocess.run([sys.executable, "-m", "kubetui", "class", "revoke", "carol", "--dir", str(s.folder)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "cluster credential" in r.stdout, r.stdout + r.stderr

    async def check():
        carol = HTTPClient.from_kubeconfig(s.folder / "users" / "class-carol.kubeconfig")
        try:
            with pytest.raises(Unauthorized):
                await carol.list("pods", namespace="class-carol")
        finally:
            await carol.close()
    asyncio.run(check())
