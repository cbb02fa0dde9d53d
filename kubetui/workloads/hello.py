"""kubetui/hello: a web server on :8080 that says which pod answered (like ``hashicorp/http-echo``).

``GET /`` answers ``pod=<name> node=<node> version=<v>`` (one line), ``GET
/json`` the same as JSON plus how many requests this pod has served, which
is what the traffic view and ``kubetui/loadgen`` count. ``GET /healthz`` is
for probes: ``kubetui/hello:broken`` answers 500 there forever, so a
readiness probe never passes and a rollout to it stalls, as on a real
cluster.

Any version answers 500 on ``/healthz`` while a marker file exists, so a
lesson (or ``kubetui fault inject probe-break``) can make one pod unhealthy
from inside with ``kubectl exec POD -- touch FILE`` and heal it with ``rm``.
The file is ``$KUBETUI_UNHEALTHY_FILE``, by default
``/tmp/kubetui-unhealthy-<pod name>``: pods on a local node share the
machine's ``/tmp``, so the pod name keeps one pod's marker from breaking its
neighbours.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler

from kubetui.workloads import _pod

VERSION = os.environ.get("KUBETUI_VERSION", "1")
_lock = threading.Lock()
_served = 0


def unhealthy_file() -> str:
    """While this file exists, ``/healthz`` answers 500 (see the module docstring)."""
    return os.environ.get("KUBETUI_UNHEALTHY_FILE") or f"/tmp/kubetui-unhealthy-{_pod.pod_name()}"


class Handler(BaseHTTPRequestHandler):
    server_version = f"kubetui-hello/{VERSION}"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        global _served
        if self.path.startswith("/healthz"):
            marker = unhealthy_file()
            if VERSION == "broken":
                self._send(500, "not ready: this is kubetui/hello:broken\n")
            elif os.path.exists(marker):
                self._send(500, f"unhealthy: {marker} exists\n")
            else:
                self._send(200, "ok\n")
            return
        with _lock:
            _served += 1
            served = _served
        info = {"pod": _pod.pod_name(), "node": _pod.node_name(), "version": VERSION,
                "namespace": os.environ.get("KUBETUI_POD_NAMESPACE", ""), "requests": served,
                "client": self.client_address[0]}
        if self.path.startswith("/json"):
            self._send(200, json.dumps(info) + "\n", "application/json")
        else:
            self._send(200, f"pod={info['pod']} node={info['node']} version={VERSION}\n")

    def _send(self, code: int, body: str, ctype: str = "text/plain; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args) -> None:
        # one access-log line per request on stdout: what `kubectl logs` shows
        sys.stdout.write("%s %s\n" % (self.client_address[0], fmt % args))


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    addr, port = _pod.bind_address(), _pod.port()
    httpd = _pod.http_server(Handler)

    def stop(signum, frame):  # graceful termination: finish and exit 0 on SIGTERM
        print("received SIGTERM, shutting down", flush=True)
        threading.Thread(target=httpd.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    print(f"kubetui/hello version {VERSION} listening on {addr}:{port} "
          f"(pod {_pod.pod_name()}, node {_pod.node_name()})", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
