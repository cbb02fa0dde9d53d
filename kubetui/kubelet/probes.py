"""Liveness, readiness and startup probes (upstream: ``pkg/kubelet/prober``).

One worker per probe per container, as upstream: it waits
``initialDelaySeconds``, then every ``periodSeconds`` runs the probe
(``httpGet``, ``tcpSocket`` or ``exec``) with ``timeoutSeconds``, and flips
its result only after ``failureThreshold`` failures or ``successThreshold``
successes in a row. Liveness and readiness wait until the startup probe has
succeeded. What a result *does* (restart, remove from endpoints) is the pod
worker's business.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

LIVENESS, READINESS, STARTUP = "Liveness", "Readiness", "Startup"
PROBE_FIELDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
USER_AGENT = "kube-probe/1.37"


@dataclass
class ProbeSettings:
    initial_delay: float = 0
    period: float = 10
    timeout: float = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_spec(cls, probe: dict) -> "ProbeSettings":
        return cls(float(probe.get("initialDelaySeconds", 0)), float(probe.get("periodSeconds", 10)),
                   float(probe.get("timeoutSeconds", 1)), int(probe.get("successThreshold", 1)),
                   int(probe.get("failureThreshold", 3)))


class ProbeState:
    """The result of a probe and its consecutive-run counters (pure, table-tested)."""

    def __init__(self, kind: str, settings: ProbeSettings) -> None:
        self.kind = kind
        self.settings = settings
        # upstream's initial values: not ready, alive (until proven dead), not started
        self.result = kind == LIVENESS
        # a startup probe that failed failureThreshold times before ever succeeding: the
        # container is killed (upstream's startup manager reports Failure)
        self.failed = False
        self._run_ok = 0
        self._run_fail = 0

    def record(self, ok: bool) -> bool:
        """Count one probe outcome; returns True if the result changed."""
        if ok:
            self._run_ok, self._run_fail = self._run_ok + 1, 0
            if not self.result and self._run_ok >= self.settings.success_threshold:
                self.result = True
                return True
        else:
            self._run_fail, self._run_ok = self._run_fail + 1, 0
            if self.result and self._run_fail >= self.settings.failure_threshold:
                self.result = False
                return True
            if self.kind == STARTUP and not self.result and not self.failed \
                    and self._run_fail >= self.settings.failure_threshold:
                self.failed = True
                return True
        return False


ProbeFn = Callable[[float], Awaitable[tuple[bool, str]]]


class ProbeWorker:
    """Runs one probe periodically on the injected clock."""

    def __init__(self, kind: str, settings: ProbeSettings, probe: ProbeFn, clock, *,
                 gate: Callable[[], bool] = lambda: True,
                 on_change: Callable[[], None] = lambda: None,
                 on_failure: Callable[[str], None] = lambda msg: None) -> None:
        self.state = ProbeState(kind, settings)
        self.kind = kind
        self.probe = probe
        self.clock = clock
        self.gate = gate
        self.on_change = on_change
        self.on_failure = on_failure
        self.task: asyncio.Task | None = None

    @property
    def result(self) -> bool:
        return self.state.result

    @property
    def failed(self) -> bool:
        return self.state.failed

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def stop(self) -> None:
        if self.task:
            self.task.cancel()

    async def _run(self) -> None:
        s = self.state.settings
        await self.clock.sleep(s.initial_delay)
        while True:
            if self.gate():
                try:
                    ok, msg = await asyncio.wait_for(self.probe(s.timeout), s.timeout + 1)
                except asyncio.TimeoutError:
                    ok, msg = False, f"timeout: probe did not answer within {s.timeout:g}s"
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a probe error is a failed probe, never a crash
                    ok, msg = False, str(e)
                if not ok:
                    self.on_failure(msg)
                if self.state.record(ok):
                    self.on_change()
                if self.kind == STARTUP and (self.state.result or self.state.failed):
                    return          # a startup probe stops once it succeeded (or failed for good)
            await self.clock.sleep(s.period)


# -- the three handlers --------------------------------------------------------
async def http_get(host: str, port: int, path: str, timeout: float, scheme: str = "HTTP",
                   headers: list[dict] | None = None) -> tuple[bool, str]:
    url = f"{scheme.lower()}://{host}:{port}{path}"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            host, port, ssl=_insecure_ctx() if scheme.upper() == "HTTPS" else None), timeout)
    except (OSError, asyncio.TimeoutError) as e:
        return False, f'Get "{url}": dial tcp {host}:{port}: {_why(e)}'
    try:
        lines = [f"GET {path or '/'} HTTP/1.1", f"Host: {host}:{port}", f"User-Agent: {USER_AGENT}",
                 "Accept: */*", "Connection: close"]
        lines += [f"{h['name']}: {h['value']}" for h in headers or []]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), timeout)
    except (OSError, asyncio.TimeoutError) as e:
        return False, f'Get "{url}": {_why(e)}'
    finally:
        writer.close()
    try:
        code = int(status.split()[1])
    except (IndexError, ValueError):
        return False, f'Get "{url}": malformed HTTP response'
    if 200 <= code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {code}"


async def tcp_socket(host: str, port: int, timeout: float) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError) as e:
        return False, f"dial tcp {host}:{port}: {_why(e)}"
    writer.close()
    return True, ""


def _why(e: BaseException) -> str:
    if isinstance(e, asyncio.TimeoutError):
        return "i/o timeout"
    if isinstance(e, ConnectionRefusedError):
        return "connect: connection refused"
    return str(e)


def _insecure_ctx():
    # upstream: HTTPS probes skip certificate verification
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def resolve_port(port, container: dict) -> int:
    """A probe's port may name a containerPort (``port: http``)."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} is not a named port of container {container.get('name')}")


def probe_handler(spec: dict, c: dict, *, host: Callable[[], str], runtime, cid: Callable[[], str | None]):
    """The function a ``ProbeWorker`` runs for one probe: its ``httpGet``, ``tcpSocket`` or ``exec``."""
    async def run(timeout: float) -> tuple[bool, str]:
        if "httpGet" in spec:
            h = spec["httpGet"]
            return await http_get(h.get("host") or host(), resolve_port(h["port"], c), h.get("path", "/"),
                                  timeout, h.get("scheme", "HTTP"), h.get("httpHeaders"))
        if "tcpSocket" in spec:
            t = spec["tcpSocket"]
            return await tcp_socket(t.get("host") or host(), resolve_port(t["port"], c), timeout)
        if "exec" in spec:
            r = await runtime.exec_sync(cid(), spec["exec"]["command"], timeout)
            out = (r.stdout + r.stderr).decode(errors="replace").strip()
            if r.exit_code == 0:
                return True, ""
            return False, out or f"command exited with {r.exit_code}"
        return False, "probe has no handler (httpGet, tcpSocket or exec)"
    return run


async def run_lifecycle_hook(hook: dict, c: dict, grace: float, *, host: str, runtime, cid: str | None,
                             clock) -> None:
    """A ``preStop`` (or ``postStart``) hook: ``sleep``, ``exec`` or ``httpGet``; raises if it failed."""
    if "sleep" in hook:
        await clock.sleep(min(float(hook["sleep"].get("seconds", 0)), grace))
    elif "exec" in hook:
        r = await runtime.exec_sync(cid, hook["exec"]["command"], grace)
        if r.exit_code != 0:
            out = (r.stdout + r.stderr).decode(errors="replace").strip()
            raise RuntimeError(f"command {hook['exec']['command']!r} exited with {r.exit_code}: {out}")
    elif "httpGet" in hook:
        h = hook["httpGet"]
        ok, msg = await http_get(h.get("host") or host, resolve_port(h["port"], c), h.get("path", "/"), grace,
                                 h.get("scheme", "HTTP"), h.get("httpHeaders"))
        if not ok:
            raise RuntimeError(f"HTTP lifecycle hook ({h.get('path', '/')}) failed: {msg}")
