"""Small socket helpers shared by the control plane, providers and tests (a leaf: imports nothing of kubetui)."""

from __future__ import annotations

import socket


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when ``host:port`` can be bound now (SO_REUSEADDR, as a server would bind it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the kernel says is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening_socket(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (``port`` 0: one the kernel picks), to hand to
    ``asyncio.start_server(sock=...)`` later: the port is this process's from now on, where a port
    ``port_free`` only said was free can be taken by anyone before it is bound. OSError when taken."""
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(100)
    except OSError:
        s.close()
        raise
    s.setblocking(False)
    return s
