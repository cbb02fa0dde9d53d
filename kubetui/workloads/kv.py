"""kubetui/kv: a key-value store over HTTP that keeps its data in a volume (for lessons on volumes).

``PUT /key`` (body = value) stores, ``GET /key`` reads, ``DELETE /key``
removes, ``GET /`` lists keys as JSON. Data lives in ``$DATA_DIR`` (default
``/data``) as ``kv.json``, written atomically, so it survives the pod only if
``/data`` is a volume that does (a PersistentVolume or hostPath, not emptyDir).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler

from kubetui.workloads import _pod

_lock = threading.Lock()


def data_file() -> str:
    return os.path.join(_pod.host_path(os.environ.get("DATA_DIR", "/data")), "kv.json")


def load() -> dict[str, str]:
    try:
        with open(data_file()) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save(data: dict[str, str]) -> None:
    path = data_file()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Handler(BaseHTTPRequestHandler):
    def _key(self) -> str:
        return self.path.lstrip("/").split("?", 1)[0]

    def do_GET(self) -> None:  # noqa: N802
        key = self._key()
        with _lock:
            data = load()
        if not key:
            self._send(200, json.dumps({"pod": _pod.pod_name(), "keys": sorted(data)}) + "\n")
        elif key == "healthz":
            self._send(200, "ok\n")
        elif key in data:
            self._send(200, data[key] + "\n")
        else:
            self._send(404, f"no key {key!r}\n")

    def do_PUT(self) -> None:  # noqa: N802
        key = self._key()
        if not key:
            self._send(400, "PUT /<key> with the value as body\n")
            return
        value = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        with _lock:
            data = load()
            data[key] = value.rstrip("\n")
            save(data)
        self._send(201, f"stored {key}\n")

    do_POST = do_PUT

    def do_DELETE(self) -> None:  # noqa: N802
        key = self._key()
        with _lock:
            data = load()
            found = data.pop(key, None) is not None
            save(data)
        self._send(200 if found else 404, ("deleted " if found else "no key ") + key + "\n")

    def _send(self, code: int, body: str) -> None:
        raw = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("X-Pod", _pod.pod_name())
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, fmt: str, *args) -> None:
        sys.stdout.write("%s %s\n" % (self.client_address[0], fmt % args))
        sys.stdout.flush()


def main() -> None:
    addr, port = _pod.bind_address(), _pod.port()
    print(f"kubetui/kv on {addr}:{port}, data in {data_file()} ({len(load())} keys)", flush=True)
    httpd = _pod.http_server(Handler)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
