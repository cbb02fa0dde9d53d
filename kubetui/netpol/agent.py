"""The network-policy agent: watch policies, pods and namespaces, keep this node's iptables in step.

Upstream Kubernetes has no such component: the network plugin brings it
(Calico's Felix, kube-router's ``--run-firewall``, Cilium's agent), one per
node, next to the kubelet. It decides with ``kubetui.netpol.rules`` (pure)
and acts here (thin): ``iptables-save -c`` to read the counters and our
chains, ``iptables-restore --noflush --counters`` to replace our chains in
one transaction, then ``FORWARD``'s first rule made to jump to
``KUBETUI-NETPOL`` (kube-proxy inserts its own ACCEPTs at the top too, and
a policy must be checked before them).

Like kube-proxy, it waits until its caches have listed once (never programs
a half-known cluster), batches bursts of changes (``min_sync_seconds``), and
resyncs now and then so rules someone flushed come back. It serves what it
enforces on its metrics port: ``GET /policies`` (every counted rule with its
packet counter, which policy versions are applied), ``GET /applied`` (only
the versions, cheap enough to poll) and ``GET /healthz``.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from kubetui.agent.clock import RealClock
from kubetui.agent.reflector import Reflector
from kubetui.netpol.rules import TOP_CHAIN, PolicyRules, build_rules, our_chains, parse_counters
from kubetui.proxy.iptables import IPTables, IPTablesError

log = logging.getLogger("kubetui.netpol")

JUMP_COMMENT = "kubetui network policies"


class IptablesEnforcer:
    """Applies a rule set to this node's filter table."""

    def __init__(self, ipt: IPTables) -> None:
        self.ipt = ipt
        self.last_text = ""
        self.rules: PolicyRules | None = None
        self._counters: dict = {}               # what the last iptables-save showed
        self._chains: set[str] = set()

    def saved(self) -> str:
        return self.ipt.save("filter", counters=True)

    def apply(self, build, verify: bool = True) -> bool:
        """Build with the node's counters and chains, restore if it changed; True if written.

        With ``verify=False`` (a sync for a change in the agent's caches, not its periodic
        resync), the rules are first built from what the last ``iptables-save`` showed: when they
        are the ones in place, nothing is read or written. A burst of pod starts changes pods
        many times a second, mostly in ways no policy sees, and each sync forked
        ``iptables-save`` and ``iptables -S``. Felix keeps its view of the dataplane in memory
        the same way and re-reads it on its refresh interval, which is what ``verify`` is.
        """
        if not verify and self.last_text:
            if _strip_counters(build(self._counters, self._chains).text) == self.last_text:
                return False
        saved = self.saved()
        self._counters, self._chains = parse_counters(saved), our_chains(saved)
        rs = build(self._counters, self._chains)
        # The counters in the text change with traffic; compare the rules alone.
        bare = _strip_counters(rs.text)
        if bare != self.last_text or TOP_CHAIN not in our_chains(saved):
            self.ipt.restore(rs.text)
            self.last_text = bare
            written = True
        else:
            written = False
        self.ensure_jump_first()
        self.rules = rs
        return written

    def ensure_jump_first(self) -> None:
        """``-I FORWARD 1 -j KUBETUI-NETPOL`` unless it is already the first rule (once only)."""
        tool = self.ipt._tool("iptables")
        rc, out, err = self.ipt.run([tool, "-w", "5", "-t", "filter", "-S", "FORWARD"], None)
        if rc != 0:
            raise IPTablesError(f"iptables -S FORWARD: {err.strip()}")
        rules = [line for line in out.splitlines() if line.startswith("-A FORWARD ")]
        ours = [line for line in rules if line.endswith(f"-j {TOP_CHAIN}")]
        if rules and rules[0].endswith(f"-j {TOP_CHAIN}") and len(ours) == 1:
            return
        for _ in ours:
            self.ipt.run([tool, "-w", "5", "-t", "filter", "-D", "FORWARD", "-m", "comment", "--comment",
                          JUMP_COMMENT, "-j", TOP_CHAIN], None)
        rc, _, err = self.ipt.run([tool, "-w", "5", "-t", "filter", "-I", "FORWARD", "1", "-m", "comment",
                                   "--comment", JUMP_COMMENT, "-j", TOP_CHAIN], None)
        if rc != 0:
            raise IPTablesError(f"iptables -I FORWARD 1 -j {TOP_CHAIN}: {err.strip()}")

    def counters(self) -> dict[tuple[str, str], tuple[int, int]]:
        return parse_counters(self.saved())


def _strip_counters(text: str) -> str:
    return "\n".join(line.partition("] ")[2] if line.startswith("[") else line for line in text.splitlines())


class NetworkPolicyAgent:
    def __init__(self, api: Any, enforcer: Any, *, node_name: str, min_sync_seconds: float = 0.02,
                 sync_seconds: float = 10.0, clock: Any = None) -> None:
        self.api = api
        self.enforcer = enforcer
        self.node_name = node_name
        self.min_sync_seconds = min_sync_seconds
        self.sync_seconds = sync_seconds
        self.clock = clock or RealClock()
        self._dirty = asyncio.Event()
        self.policies = Reflector(api, "/apis/networking.k8s.io/v1/networkpolicies", on_change=self._changed,
                                  clock=self.clock, name="networkpolicies")
        self.pods = Reflector(api, "/api/v1/pods", on_change=self._changed, clock=self.clock, name="pods")
        self.namespaces = Reflector(api, "/api/v1/namespaces", on_change=self._changed, clock=self.clock,
                                    name="namespaces")
        # this node alone: its spec.podCIDR (where starting pods get their addresses)
        self.nodes = Reflector(api, "/api/v1/nodes", params={"fieldSelector": f"metadata.name={node_name}"},
                               on_change=self._changed, clock=self.clock, name="node")
        self.applied: dict[str, str] = {}       # "ns/name" -> resourceVersion of the policies last enforced
        self.syncs = 0
        self.last_sync: float | None = None
        self.last_error: str | None = None
        self.synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._http: asyncio.base_events.Server | None = None

    def _changed(self) -> None:
        self._dirty.set()

    def _reflectors(self) -> tuple[Reflector, ...]:
        return (self.policies, self.pods, self.namespaces, self.nodes)

    def pod_cidr(self) -> str | None:
        node = next(iter(self.nodes.list()), None)
        return ((node or {}).get("spec") or {}).get("podCIDR")

    async def start(self) -> None:
        for r in self._reflectors():
            r.start()
        self._tasks.append(asyncio.create_task(self._sync_loop(), name="netpol sync"))

    async def _sync_loop(self) -> None:
        for r in self._reflectors():
            await r.synced.wait()
        verify = True
        while True:
            self._dirty.clear()
            await self.sync_once(verify)
            changed = await self._changed_within(self.sync_seconds)
            if changed:
                await self.clock.sleep(self.min_sync_seconds)   # batch a burst of changes into one sync
            verify = not changed        # the periodic resync reads the node's rules again

    async def _changed_within(self, seconds: float) -> bool:
        changed = asyncio.ensure_future(self._dirty.wait())
        timer = asyncio.ensure_future(self.clock.sleep(seconds))
        try:
            await asyncio.wait({changed, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            timer.cancel()
        return self._dirty.is_set()

    async def sync_once(self, verify: bool = True) -> None:
        """Enforce what the caches say; ``verify=False`` skips iptables when the rules are unchanged."""
        policies, pods, namespaces = self.policies.list(), self.pods.list(), self.namespaces.list()
        pod_cidr = self.pod_cidr()
        versions = {f"{p['metadata'].get('namespace')}/{p['metadata']['name']}":
                    str(p["metadata"].get("resourceVersion") or "") for p in policies}

        def build(counters, existing):
            return build_rules(policies, pods, namespaces, self.node_name, counters=counters,
                               existing_chains=existing, pod_cidr=pod_cidr)
        start = self.clock.monotonic()
        try:
            written = await asyncio.to_thread(self.enforcer.apply, build, verify)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - loop boundary: keep the old rules, retry soon
            self.last_error = str(e)
            log.error("network policy sync failed: %s; retrying", e)
            self._dirty.set()
            await self.clock.sleep(1.0)
            return
        self.applied = versions
        self.syncs += 1
        self.last_error = None
        self.last_sync = self.clock.time()
        self.synced.set()
        if written:
            log.info("enforcing %d NetworkPolicies on node %s (%.1f ms)", len(policies), self.node_name,
                     (self.clock.monotonic() - start) * 1000)

    def report(self) -> dict[str, Any]:
        """``GET /policies``: what this node enforces, and each counted rule's packets."""
        rs = getattr(self.enforcer, "rules", None)
        counts = self.enforcer.counters() if rs is not None else {}
        rules = []
        for key, r in sorted((rs.counted if rs else {}).items(), key=lambda kv: (kv[1].pod, kv[1].direction,
                                                                                  kv[1].action, kv[1].policy)):
            pkts, byts = counts.get(key, (0, 0))
            rules.append({"pod": r.pod, "direction": r.direction, "action": r.action, "policy": r.policy,
                          "rule": r.rule, "policies": r.policies, "packets": pkts, "bytes": byts,
                          "chain": r.chain, "comment": r.comment})
        return {"kind": "NetworkPolicyTraffic", "node": self.node_name, "applied": self.applied,
                "isolated": rs.isolated if rs else {}, "rules": rules, "syncs": self.syncs,
                "lastSync": self.last_sync, "error": self.last_error}

    # --- the metrics port: GET /policies, GET /healthz ---

    async def serve(self, host: str, port: int) -> int:
        self._http = await asyncio.start_server(self._serve_one, host, port, reuse_address=True)
        return self._http.sockets[0].getsockname()[1]

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            if path == "/healthz":
                ok = self.last_sync is not None and self.last_error is None
                code, body = (200, {"lastUpdated": self.last_sync}) if ok else (503, {"error": self.last_error})
            elif path == "/policies":
                code, body = 200, await asyncio.to_thread(self.report)
            elif path == "/applied":
                # cheap (no iptables-save): which policy versions the last sync enforced (for benchmarks)
                code, body = 200, {"node": self.node_name, "applied": self.applied, "syncs": self.syncs}
            else:
                code, body = 404, {"error": f"no such path {path}; try /policies or /healthz"}
            data = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        """Rules stay when the agent stops (as with Calico): what was enforced stays enforced."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        for r in self._reflectors():
            await r.stop()
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()
