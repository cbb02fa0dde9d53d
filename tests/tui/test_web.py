"""``kubetui web`` in headless Chromium: the page loads offline, shows the cluster map, and takes keys.

xterm.js draws on a canvas, so the screen cannot be read from the DOM;
textual-serve sends the app's terminal output as binary websocket frames,
which the test collects and reads (ANSI stripped). Every non-local request
is aborted, and the page must not even ask for one (no CDN).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.acceptance.conftest import Headless

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")


def _need_browser() -> None:
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package")
    if not os.path.exists(CHROMIUM):
        missing.append("chromium (apt-get install chromium)")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail("web test needs " + " and ".join(missing))
        pytest.skip("web test needs " + " and ".join(missing))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"kubetui web never listened on {port}")


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """One headless cluster and one ``kubetui web`` for the module; each test opens its own page (and TUI)."""
    _need_browser()
    cluster = Headless(tmp_path_factory.mktemp("web") / "cluster", "--nodes", "2")
    kubeconfig = cluster.start()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kubetui.tui.web", str(kubeconfig), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(10)
        cluster.stop()


class Page:
    """A Chromium page on ``kubetui web`` that collects the app's terminal output (ANSI stripped)."""

    def __init__(self, browser, url: str) -> None:
        self.out = bytearray()
        self.outside: list[str] = []
        self.page = browser.new_page()

        def route(r):
            self.outside.append(r.request.url)
            r.abort()
        self.page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), route)
        self.page.on("websocket", lambda ws: ws.on(
            "framereceived", lambda d: self.out.extend(d) if isinstance(d, bytes) else None))
        self.page.goto(url)
        self.page.wait_for_selector("body.-first-byte", timeout=20000)

    def text(self) -> str:
        return ANSI.sub(b"", bytes(self.out)).decode("utf-8", "replace")

    def wait_text(self, needle: str, timeout: float = 20.0, since: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text()[since:]:
                return
            self.page.wait_for_timeout(50)
        raise AssertionError(f"{needle!r} never arrived; got: {self.text()[-2000:]}")


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True,
                             args=["--disable-gpu", "--disable-background-networking",
                                   "--disable-component-update", "--disable-sync", "--no-first-run"])


def test_keys_work_on_load_and_the_footer_shows_browser_safe_keys(web):
    """Issue 12 item 24: no click needed before keys work; ^l/^d/^t/^p have browser-safe twins in the footer."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = Page(browser, web)
            page.wait_text("node-2")
            # The footer offers keys a browser leaves alone, not the ctrl ones it keeps.
            page.wait_text("L Lesson")
            text = page.text()
            assert "^l Lesson" not in text and "^d Delete" not in text, text[-1500:]
            assert "P palette" in text and "^p palette" not in text
            since = len(page.text())
            page.page.keyboard.press("2")            # no click first: the terminal has the keyboard
            page.wait_text("RESTARTS", since=since)
            since = len(page.text())
            page.page.keyboard.press("Shift+L")      # the lesson picker, as ctrl+l in a terminal
            page.wait_text("Meet the cluster", since=since)
            assert page.outside == []
        finally:
            browser.close()


def test_web_shows_cluster_map_and_takes_keys(web):
    from playwright.sync_api import sync_playwright

    out = bytearray()
    outside: list[str] = []

    def text() -> str:
        return ANSI.sub(b"", bytes(out)).decode("utf-8", "replace")

    def wait_text(needle: str, page, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in text():
                return
            page.wait_for_timeout(50)
        raise AssertionError(f"{needle!r} never arrived; got: {text()[-2000:]}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()

            def route(r):
                outside.append(r.request.url)
                r.abort()
            page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), route)
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda d: out.extend(d) if isinstance(d, bytes) else None))
            page.goto(web)
            page.wait_for_selector("body.-first-byte", timeout=20000)
            wait_text("API server", page)      # the cluster map's control plane strip
            wait_text("node-2", page)          # and the nodes
            # The control plane's counters reach the browser too (controlplane.kubetui.dev; issue 12 item 23).
            wait_text("total ", page)
            assert "not visible" not in text()
            page.click("#terminal")
            page.keyboard.press("2")           # the resource browser
            wait_text("RESTARTS", page)
            assert outside == [], f"the page asked for non-local resources: {outside}"
        finally:
            browser.close()
