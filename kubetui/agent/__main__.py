"""``python3 -m kubetui.agent``: run several node agents in one process, or freeze/thaw one of them.

``run kubetui.kubelet ARGS... -- kubetui.proxy ARGS...`` is what a Docker
node's entrypoint starts: each module named is an agent package whose
``__main__`` has ``NAME``, ``parse_args(argv)`` and ``build(args)`` (the same
functions its own ``python3 -m`` uses). ``freeze NAME`` / ``thaw NAME`` stop
and resume one agent of that process, as ``kill -STOP``/``-CONT`` would a
process of its own (the ``kubelet-stop`` and ``kube-proxy-stop`` faults).
"""

from __future__ import annotations

import importlib
import os
import sys

from kubetui.agent.main import run_agents, signal_agent


def split_commands(argv: list[str]) -> list[list[str]]:
    """``A a1 a2 -- B b1`` -> ``[[A, a1, a2], [B, b1]]``."""
    out: list[list[str]] = [[]]
    for a in argv:
        if a == "--":
            out.append([])
        else:
            out[-1].append(a)
    return [c for c in out if c]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        agents = []
        for module, *args in split_commands(argv[1:]):
            if not module.startswith("kubetui."):
                raise SystemExit(f"not a kubetui agent package: {module}")
            entry = importlib.import_module(f"{module}.__main__")
            parsed = entry.parse_args(args)
            agents.append((entry.NAME, lambda entry=entry, parsed=parsed: entry.build(parsed)))
        return run_agents(agents, os.environ.get("KUBETUI_LOG_LEVEL", "INFO"))
    import argparse     # only here: the node's agents (``run``) parse with kubetui.agent.flags
    p = argparse.ArgumentParser(prog="python3 -m kubetui.agent", description="run node agents in one process, or freeze/thaw one")
    p.add_argument("action", choices=("freeze", "thaw"))
    p.add_argument("agent", help="e.g. kubelet, kube-proxy")
    args = p.parse_args(argv)
    try:
        signal_agent(args.agent, args.action)
    except (OSError, KeyError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
