"""The agents' base without asyncio, for the cluster DNS pod (upstream: CoreDNS links client-go's
REST client and informers; here a blocking twin of ``apiclient`` and ``reflector``).

The kube-dns pod is a second Python interpreter on its node, and asyncio with
what it imports (``inspect``, ``ast``, ``typing``, ``concurrent.futures``) is
about 4 MiB of every interpreter that loads it: more than the DNS server's own
data. So the DNS pod lists and watches its two resources with threads instead:

- ``BlockingAPIClient``: the same requests as ``apiclient.APIClient`` (bearer
  token, the cluster CA, ``Status`` errors as ``APIError``), one TLS socket
  per call or watch; the DNS pod only lists, then watches for hours;
- ``BlockingReflector``: ``reflector.Reflector``'s algorithm on a thread (list,
  watch from the list's resourceVersion, bookmarks, relist on 410 Gone,
  backoff with jitter after errors, a very short empty watch is an error);
- ``serve``: run an agent until SIGTERM/SIGINT, as ``main.main`` does.

The HTTP framing and the error vocabulary are ``httpwire``'s, shared with the
asyncio client.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import ssl
import threading
import time

from kubetui.agent.httpwire import (APIError, error, header, query, request_head, split_server, status_code,
                                    watch_event)

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"      # the same as ``main.LOG_FORMAT``


class BlockingAPIClient:
    """GET and watch against the API server, blocking the calling thread."""

    def __init__(self, server: str, token: str | None = None, ca_file: str | None = None,
                 ca_data: str | None = None, user_agent: str = "kubetui-dns/v1.37.0 (kubetui)",
                 timeout: float = 30.0) -> None:
        self.host, self.port, self.tls = split_server(server)
        self.token, self.user_agent, self.timeout = token, user_agent, timeout
        self._ssl = ssl.create_default_context(cafile=ca_file, cadata=ca_data) if self.tls else None

    def _connect(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        if self._ssl is not None:
            sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
        sock.settimeout(timeout)
        return sock

    def _send(self, sock: socket.socket, path: str):
        sock.sendall(request_head(self.host, self.port, self.user_agent, self.token, "GET", path, None, None,
                                  keep_alive=False))
        f = sock.makefile("rb")
        line = f.readline()
        if not line:
            raise APIError(503, "ServiceUnavailable", "connection closed by the API server")
        code, headers = status_code(line), {}
        while True:
            line = f.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, v = header(line)
            headers[k] = v
        return f, code, headers

    @staticmethod
    def _chunks(f, headers: dict[str, str]):
        if "chunked" in headers.get("transfer-encoding", ""):
            while True:
                size_line = f.readline()
                if not size_line:
                    return
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                data = f.read(size)
                f.readline()
                if len(data) < size:
                    return
                yield data
        elif "content-length" in headers:
            n = int(headers["content-length"])
            if n:
                yield f.read(n)
        else:
            yield from iter(lambda: f.read(65536), b"")

    def get(self, path: str) -> dict:
        sock = self._connect(self.timeout)
        try:
            f, code, headers = self._send(sock, path)
            data = b"".join(self._chunks(f, headers))
        except (OSError, ValueError) as e:
            raise APIError(503, "ServiceUnavailable", f"GET {path}: {e}") from None
        finally:
            sock.close()
        obj = json.loads(data) if data.strip() else {}
        if code >= 400:
            raise error(code, obj, data)
        return obj

    def watch(self, path: str, params: dict[str, str], opened=None):
        """(type, object) events until the server ends the stream; ``APIError(410)`` if the
        resourceVersion is too old. ``opened(sock)`` receives the socket, so another thread can
        end the watch by shutting it down."""
        sock = self._connect(None)
        if opened is not None:
            opened(sock)
        try:
            f, code, headers = self._send(sock, query(path, **dict(params, watch="true")))
            if code >= 400:
                data = b"".join(self._chunks(f, headers))
                raise error(code, json.loads(data or b"{}"), data)
            buf = b""
            for chunk in self._chunks(f, headers):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    ev = watch_event(line)
                    if ev is not None:
                        yield ev
        finally:
            sock.close()


def _jitter() -> float:
    """A number in [0, 1) for backoff jitter (``random`` would cost the DNS pod its imports)."""
    return int.from_bytes(os.urandom(2), "big") / 65536


def object_key(obj: dict) -> str:
    """``namespace/name`` (``reflector.object_key``)."""
    m = obj.get("metadata") or {}
    return f"{m.get('namespace')}/{m.get('name')}" if m.get("namespace") else str(m.get("name"))


class BlockingReflector:
    """``reflector.Reflector`` on a thread of its own: ``store`` follows the API server's objects."""

    INITIAL_BACKOFF, MAX_BACKOFF = 0.8, 5.0

    def __init__(self, api: BlockingAPIClient, path: str, *, params: dict[str, str] | None = None,
                 on_change=None, name: str | None = None, rand=None) -> None:
        self.api, self.path = api, path
        self.params = {k: v for k, v in (params or {}).items() if v}
        self.on_change, self.name, self.rand = on_change, name or path, rand or _jitter
        self.store: dict[str, dict] = {}
        self.resource_version = ""
        self.synced = threading.Event()
        self.lists = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._next_backoff = self.INITIAL_BACKOFF

    def list(self) -> list[dict]:
        return list(self.store.values())

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"reflector {self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)     # wakes the thread blocked reading the watch
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.list_and_watch()
            except Exception as e:  # noqa: BLE001 - loop boundary: every failure means "list again"
                if self._stop.is_set():
                    return
                if getattr(e, "code", None) == 410:
                    log.debug("watch of %s: resourceVersion %s is too old (410 Gone); relisting",
                              self.name, self.resource_version)
                    continue
                delay = self._backoff()
                log.warning("list/watch of %s failed: %s; relisting in %.1fs", self.name, e, delay)
                self._stop.wait(delay)

    def _backoff(self) -> float:
        d = self._next_backoff
        self._next_backoff = min(self.MAX_BACKOFF, d * 2)
        return min(self.MAX_BACKOFF, d * (1 + 0.5 * self.rand()))

    def list_and_watch(self) -> None:
        lst = self.api.get(query(self.path, **self.params))
        self.lists += 1
        self.replace(lst.get("items") or [], (lst.get("metadata") or {}).get("resourceVersion", ""))
        while not self._stop.is_set():
            self.watch_once()

    def watch_once(self) -> None:
        params = dict(self.params, resourceVersion=self.resource_version, allowWatchBookmarks="true")
        started, events = time.monotonic(), 0
        for typ, obj in self.api.watch(self.path, params, opened=self._opened):
            events += 1
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if typ == "BOOKMARK":
                if rv:
                    self.resource_version = rv
                continue
            if typ not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            k = object_key(obj)
            if typ == "DELETED":
                self.store.pop(k, None)
            else:
                self.store[k] = obj
            if rv:
                self.resource_version = rv
            self._next_backoff = self.INITIAL_BACKOFF
            self._changed()
        self._sock = None
        if not events and time.monotonic() - started < 1.0 and not self._stop.is_set():
            raise APIError(500, "", f"very short watch of {self.name}: it ended at once with no event")

    def _opened(self, sock: socket.socket) -> None:
        self._sock = sock
        if self._stop.is_set():
            sock.shutdown(socket.SHUT_RDWR)

    def replace(self, items: list[dict], resource_version: str) -> None:
        self.store = {object_key(o): o for o in items}
        self.resource_version = resource_version
        self.synced.set()
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def serve(name: str, agent, log_level: str = "INFO") -> int:
    """Run ``agent`` (``start()``/``stop()``, blocking) in this process until SIGTERM/SIGINT."""
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    agent.start()
    while not stop.wait(3600):
        pass
    log.info("%s stopping", name)
    agent.stop()
    return 0
