"""Talking to iptables: pick the backend, make sure the jumps exist, restore atomically.

Upstream: ``pkg/util/iptables/iptables.go`` (``EnsureChain``, ``EnsureRule``,
``RestoreAll`` with ``--noflush --counters``) and kind's node entrypoint
(``fix_iptables_mode``: count the rules each backend holds, use the busier
one). Two backends exist: ``legacy`` (the old x_tables kernel API) and ``nft``
(the same rules stored in nftables). They do not see each other's rules, so
kube-proxy must write with the backend the host's Docker already used for the
node's network namespace, or ``iptables -t nat -S`` would show a learner only
half of the rules.

``iptables-restore --noflush`` applies a whole table in one kernel
transaction: a sync is all-or-nothing, and chains not named in the input
(Docker's, the kubelet's) are left alone.

Standard library only: this runs inside the node.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Sequence

from kubetui.proxy.rules import JUMP_CHAINS, jump_rule_args

log = logging.getLogger(__name__)

# argv, stdin text -> (returncode, stdout, stderr)
Runner = Callable[[Sequence[str], str | None], tuple[int, str, str]]


def subprocess_runner(prefix: Sequence[str] = ()) -> Runner:
    """Run commands for real; ``prefix`` e.g. ``["ip", "netns", "exec", "ns1"]`` runs them in a netns."""
    def run(argv: Sequence[str], stdin: str | None = None) -> tuple[int, str, str]:
        r = subprocess.run([*prefix, *argv], input=stdin, capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr
    return run


class IPTablesError(RuntimeError):
    pass


def count_rules(save_output: str) -> int:
    """Rules (``-A`` lines) in an iptables-save output, as kind's entrypoint counts them."""
    return sum(1 for line in save_output.splitlines() if line.startswith("-"))


def detect_backend(run: Runner) -> str:
    """``legacy`` or ``nft``: the backend that already holds more rules (kind: legacy wins a tie).

    Docker wrote its embedded-DNS rules into the node's netns with the host's
    backend before any node process ran, so this is the host's backend.
    """
    counts = {}
    for mode in ("legacy", "nft"):
        if not shutil.which(f"iptables-{mode}-save"):
            counts[mode] = -1
            continue
        rc, out, _ = run([f"iptables-{mode}-save"], None)
        counts[mode] = count_rules(out) if rc == 0 else -1
    mode = "legacy" if counts["legacy"] >= counts["nft"] and counts["legacy"] >= 0 else "nft"
    log.info("iptables backend: %s (rules: legacy %s, nft %s)", mode, counts["legacy"], counts["nft"])
    return mode


def set_alternatives(mode: str, run: Runner) -> None:
    """Point the plain ``iptables`` commands at ``mode`` (Debian's update-alternatives), as kind does.

    After this, a learner's ``iptables -t nat -S`` in the node reads what kube-proxy wrote.
    """
    for tool in ("iptables", "ip6tables"):
        path = f"/usr/sbin/{tool}-{mode}"
        if shutil.which("update-alternatives") and shutil.which(path):
            rc, _, err = run(["update-alternatives", "--set", tool, path], None)
            if rc != 0:
                log.warning("update-alternatives --set %s %s failed: %s", tool, path, err.strip())


@dataclass
class IPTables:
    """One backend's commands, run through ``run`` (so tests can use a network namespace)."""

    mode: str = "nft"
    run: Runner = subprocess_runner()

    def _tool(self, name: str) -> str:
        return f"iptables-{self.mode}" if name == "iptables" else f"iptables-{self.mode}-{name}"

    def _check(self, argv: Sequence[str], stdin: str | None = None) -> str:
        rc, out, err = self.run(argv, stdin)
        if rc != 0:
            raise IPTablesError(f"{' '.join(argv)}: exit {rc}: {err.strip() or out.strip()}")
        return out

    def ensure_chain(self, table: str, chain: str) -> bool:
        """Create ``chain`` if missing; True if it already existed."""
        rc, _, _ = self.run([self._tool("iptables"), "-w", "5", "-t", table, "-S", chain, "1"], None)
        if rc == 0:
            return True
        self._check([self._tool("iptables"), "-w", "5", "-t", table, "-N", chain])
        return False

    def ensure_rule_first(self, table: str, chain: str, args: Sequence[str]) -> bool:
        """Insert a rule at the top of ``chain`` unless it is there (upstream ``EnsureRule(Prepend, ...)``)."""
        rc, _, _ = self.run([self._tool("iptables"), "-w", "5", "-t", table, "-C", chain, *args], None)
        if rc == 0:
            return True
        self._check([self._tool("iptables"), "-w", "5", "-t", table, "-I", chain, "1", *args])
        return False

    def ensure_jumps(self) -> None:
        """PREROUTING/OUTPUT -> KUBE-SERVICES and friends: rules kube-proxy cannot restore with --noflush."""
        for table, dst, src, comment, extra in JUMP_CHAINS:
            self.ensure_chain(table, dst)
            self.ensure_rule_first(table, src, jump_rule_args(extra, comment, dst))

    def save(self, table: str | None = None, counters: bool = False) -> str:
        argv = [self._tool("save")]
        if table:
            argv += ["-t", table]
        if counters:
            argv.append("-c")
        return self._check(argv)

    def restore(self, text: str) -> None:
        """Apply ``text`` atomically per table, keeping other chains (and the counters of kept rules)."""
        self._check([self._tool("restore"), "-w", "5", "--noflush", "--counters"], text)

    def random_fully(self) -> bool:
        """MASQUERADE --random-fully needs iptables >= 1.6.2 (every supported distro has it)."""
        rc, out, _ = self.run([self._tool("iptables"), "--version"], None)
        if rc != 0:
            return False
        try:
            parts = [int(x) for x in out.split()[1].lstrip("v").split(".")[:3]]
        except (IndexError, ValueError):
            return True
        return parts >= [1, 6, 2]


def parse_counters(save_output: str) -> dict[str, tuple[int, int]]:
    """Per KUBE-SEP chain, (packets, bytes) of its DNAT rule, from ``iptables-save -c -t nat``.

    In the nat table only a connection's first packet is seen, so the DNAT
    rule's packet count is the number of connections that endpoint received.

    >>> parse_counters('[7:420] -A KUBE-SEP-ABC -p tcp -m tcp -j DNAT --to-destination 10.244.1.2:80')
    {'KUBE-SEP-ABC': (7, 420)}
    """
    out: dict[str, tuple[int, int]] = {}
    for line in save_output.splitlines():
        if not line.startswith("[") or " -A KUBE-SEP-" not in line or "-j DNAT" not in line:
            continue
        counter, _, rule = line.partition("] ")
        try:
            pkts, byts = (int(x) for x in counter.lstrip("[").split(":"))
        except ValueError:
            continue
        chain = rule.split()[1]
        p, b = out.get(chain, (0, 0))
        out[chain] = (p + pkts, b + byts)
    return out
