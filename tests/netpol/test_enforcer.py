"""The NetworkPolicy agent's enforcer (kubetui/netpol/agent.py): what it asks of iptables, and when."""

from __future__ import annotations

from kubetui.netpol.agent import JUMP_COMMENT, IptablesEnforcer
from kubetui.netpol.rules import TOP_CHAIN, build_rules
from tests.netpol.test_rules import NAMESPACES, PODS, pod, policy


class FakeIPTables:
    """The node's filter table as iptables-save/-restore/-S see it; counts what is run."""

    def __init__(self) -> None:
        self.text = "*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n"
        self.calls: list[str] = []
        self.jump = False

    def save(self, table: str, counters: bool = False) -> str:
        self.calls.append("save")
        return self.text

    def restore(self, text: str) -> None:
        self.calls.append("restore")
        self.text = text

    def _tool(self, name: str) -> str:
        return name

    def run(self, argv: list[str], stdin) -> tuple[int, str, str]:
        self.calls.append(" ".join(argv[argv.index("-t") + 2:argv.index("-t") + 4]))
        if "-I" in argv:
            self.jump = True
        rules = f"-A FORWARD -m comment --comment \"{JUMP_COMMENT}\" -j {TOP_CHAIN}\n" if self.jump else ""
        return 0, "-P FORWARD ACCEPT\n" + rules, ""


def builder(policies, pods):
    return lambda counters, existing: build_rules(policies, pods, NAMESPACES, "node-1", counters=counters,
                                                  existing_chains=existing, pod_cidr="10.244.1.0/24")


def test_a_change_no_policy_sees_touches_no_iptables_until_the_periodic_resync():
    """A burst of pod starts changes pods many times a second; with rules that do not depend on
    them, each change forked iptables-save and iptables -S on every node."""
    ipt = FakeIPTables()
    enforcer = IptablesEnforcer(ipt)
    deny = policy("deny-web", podSelector={"matchLabels": {"app": "web"}}, policyTypes=["Ingress"])
    assert enforcer.apply(builder([deny], PODS), verify=False) is True          # the first sync writes
    assert ipt.calls == ["save", "restore", "-S FORWARD", "-I FORWARD"]
    ipt.calls.clear()
    more = PODS + [pod("new", "10.244.2.9", "node-2", app="batch")]     # elsewhere, selected by no policy
    assert enforcer.apply(builder([deny], more), verify=False) is False
    assert ipt.calls == []
    # a pod the policy selects changes the rules: read, write, and check the jump again
    web = more + [pod("web3", "10.244.1.10", "node-1", app="web")]
    assert enforcer.apply(builder([deny], web), verify=False) is True
    assert ipt.calls == ["save", "restore", "-S FORWARD"]
    ipt.calls.clear()
    # the periodic resync reads the table even when nothing changed, and puts back what was lost
    assert enforcer.apply(builder([deny], web), verify=True) is False
    assert ipt.calls == ["save", "-S FORWARD"]
    ipt.calls.clear()
    ipt.text, ipt.jump = "*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n", False                # someone flushed
    assert enforcer.apply(builder([deny], web), verify=True) is True
    assert ipt.calls == ["save", "restore", "-S FORWARD", "-I FORWARD"]
