"""What a workload knows about the pod it runs in (from the runtime's environment)."""

from __future__ import annotations

import json
import os


def pod_name() -> str:
    return os.environ.get("KUBETUI_POD_NAME") or os.environ.get("HOSTNAME", "unknown")


def node_name() -> str:
    return os.environ.get("KUBETUI_NODE_NAME", "unknown")


def bind_address() -> str:
    """The pod's own IP: the process runtime gives each pod a distinct 127.x.y.z."""
    return os.environ.get("KUBETUI_POD_IP") or "0.0.0.0"


def port(default: int = 8080) -> int:
    return int(os.environ.get("PORT", default))


def host_path(container_path: str) -> str:
    """Where a volume mounted at ``container_path`` really is.

    In an isolated pod the volume *is* mounted there. Plain-process pods have
    no mount namespace, so the runtime lists its mounts in ``KUBETUI_MOUNTS``.
    """
    mounts = json.loads(os.environ.get("KUBETUI_MOUNTS") or "{}")
    best = ""
    for cpath in mounts:
        if (container_path == cpath or container_path.startswith(cpath.rstrip("/") + "/")) \
                and len(cpath) > len(best):
            best = cpath
    if not best:
        return container_path
    return mounts[best] + container_path[len(best.rstrip("/")):]


def http_server(handler):
    """A threading HTTP server on the pod's address and port.

    ``http.server`` looks up its own host name on bind (``socket.getfqdn``),
    a reverse DNS query that hangs for seconds in a pod whose network has no
    DNS server yet; a server that only needs its address skips it.

    Its listen backlog is the kernel's maximum, as Go's ``net.Listen`` and
    nginx (511) use, not ``socketserver``'s 5: with more than five
    connections arriving while the (CPU-starved) accept loop is behind, the
    kernel drops the extra SYNs, the client resends after 1 s, then 3 s, and
    a client with a 2 s timeout fails (issue 12 item 11: "requests through a
    Service fail now and then under load"; ``nstat`` in the pod's network
    namespace counts them as ``TcpExtListenOverflows``).
    """
    import socket
    import socketserver
    from http.server import ThreadingHTTPServer

    class PodHTTPServer(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = socket.SOMAXCONN

        def server_bind(self) -> None:
            socketserver.TCPServer.server_bind(self)
            host, port = self.server_address[:2]
            self.server_name, self.server_port = host, port

    return PodHTTPServer((bind_address(), port()), handler)
