"""A tiny iptables evaluator for the rules ``kubetui.netpol.rules`` writes (tests only).

It runs one NEW packet through the filter table's KUBETUI-NETPOL chain, as the
kernel would in FORWARD, and says ACCEPT/DROP/CONTINUE (fell through: the rest of
FORWARD accepts) plus which commented rules counted it. It knows exactly the
matches the rule builder uses; anything else fails loudly.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass, field


@dataclass
class Packet:
    src: str
    dst: str
    dport: int = 80
    proto: str = "tcp"
    mark: int = 0
    hits: list[str] = field(default_factory=list)


def parse(text: str) -> dict[str, list[list[str]]]:
    chains: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        if line.startswith(":"):
            chains.setdefault(line[1:].split()[0], [])
        elif "-A " in line:
            words = shlex.split(line[line.index("-A "):])
            chains[words[1]].append(words[2:])
    return chains


def _in(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)


def _matches(words: list[str], pkt: Packet, local: set[str]) -> tuple[bool, list[str], str]:
    """(matched, target args, comment)."""
    i, comment = 0, ""
    while i < len(words):
        w = words[i]
        if w == "-j":
            return True, words[i + 1:], comment
        neg = False
        if w == "!":
            neg, i = True, i + 1
            w = words[i]
        if w == "-m":
            i += 2
            continue
        arg = words[i + 1]
        if w == "-s":
            ok = _in(pkt.src, arg)
        elif w == "-d":
            ok = _in(pkt.dst, arg)
        elif w == "-p":
            ok = pkt.proto == arg
        elif w == "--dport":
            lo, _, hi = arg.partition(":")
            ok = int(lo) <= pkt.dport <= int(hi or lo)
        elif w == "--ctstate":
            ok = "NEW" in arg.split(",") or arg == "NEW"
        elif w == "--src-type":
            ok = arg == "LOCAL" and pkt.src in local
        elif w == "--mark":
            value, _, mask = arg.partition("/")
            ok = (pkt.mark & int(mask, 16)) == int(value, 16)
        elif w == "--comment":
            comment, ok = arg, True
        else:
            raise AssertionError(f"simulator does not know {w!r} in {words}")
        if ok == neg:
            return False, [], comment
        i += 2
    return True, [], comment


def run_chain(chains, name: str, pkt: Packet, local: set[str]) -> str:
    for words in chains[name]:
        ok, target, comment = _matches(words, pkt, local)
        if not ok:
            continue
        if comment and target and target[0] in ("RETURN", "DROP", "ACCEPT"):
            pkt.hits.append(comment)
        if not target:
            continue
        t = target[0]
        if t == "MARK":
            value, _, mask = target[2].partition("/")
            pkt.mark = (pkt.mark & ~int(mask, 16)) | int(value, 16)
        elif t in ("ACCEPT", "DROP"):
            return t
        elif t == "RETURN":
            return "RETURN"
        else:
            verdict = run_chain(chains, t, pkt, local)
            if verdict in ("ACCEPT", "DROP"):
                return verdict
    return "RETURN"


def verdict(text: str, src: str, dst: str, dport: int = 80, proto: str = "tcp",
            local: set[str] = frozenset()) -> tuple[str, list[str]]:
    """``("allow"|"drop", counted comments)`` for a new connection through this node's FORWARD."""
    chains = parse(text)
    pkt = Packet(src, dst, dport, proto)
    v = run_chain(chains, "KUBETUI-NETPOL", pkt, set(local))
    return ("drop" if v == "DROP" else "allow"), pkt.hits
