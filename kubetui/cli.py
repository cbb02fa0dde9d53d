"""The ``kubetui`` command line (kind's and kubectl's entry point, in one).

``kubetui`` alone opens the TUI on the default cluster, creating it if needed.
Every subcommand has ``--help``; failures exit non-zero with one line on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from pathlib import Path

from kubetui import __version__
from kubetui.cmdutil import CLIError, add_cluster_selector, add_up_options, kubectl_binary, resolve_state_dir

log = logging.getLogger("kubetui")

# Packages that add their own subcommands expose ``register(subparsers)``.
COMMAND_MODULES: list[str] = [
    "kubetui.cmd.docker",
    "kubetui.cmd.store",
    "kubetui.cmd.encryption",
    "kubetui.cmd.scheduler",
    "kubetui.cmd.timedial",
    "kubetui.cmd.activity",
    "kubetui.cmd.lessons",
    "kubetui.cmd.faults",
    "kubetui.cmd.users",
    "kubetui.cmd.audit",
    "kubetui.cmd.drills",
    "kubetui.cmd.classroom",
    "kubetui.tui.web",
]

# Benchmarks: each exposes ``register(bench_subparsers)`` adding ``kubetui bench <name>``.
BENCH_MODULES: list[str] = [
    "kubetui.bench.store",
    "kubetui.bench.api",
    "kubetui.bench.scheduler",
    "kubetui.bench.jobs",
    "kubetui.bench.daemonset",
    "kubetui.bench.nodes",
    "kubetui.bench.tui",
    "kubetui.bench.service",
    "kubetui.bench.hpa",
    "kubetui.bench.images",
    "kubetui.bench.containers",
    "kubetui.bench.classroom",
    "kubetui.bench.classhosted",
    "kubetui.bench.failover",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubetui",
        # No prefix matching: `explain pod X --node N` must not be taken for `--nodes`.
        allow_abbrev=False,
        description="A Kubernetes cluster in a box, for learning, in the terminal. "
                    "Without a subcommand: open the TUI on the default cluster, starting its control plane "
                    "(a background process) if none runs.",
    )
    parser.add_argument("--version", action="version", version=f"kubetui {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("--kubeconfig", metavar="FILE",
                        help="attach the TUI to the cluster behind this kubeconfig (default: the cluster's own)")
    add_up_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = sub.add_parser("up", help="bring a cluster up",
                        description="Bring a cluster up (idempotent: reuses a running cluster): its control "
                                    "plane starts as a background process (log: DIR/control-plane.log) and "
                                    "`up` returns once every node is Ready; TUIs, web sessions and kubectl "
                                    "attach to it until `kubetui down`. With --headless, run the control "
                                    "plane and nodes in the foreground instead, until SIGINT/SIGTERM; it "
                                    "writes DIR/kubeconfig and prints `ready <kubeconfig path>` once every "
                                    "node is Ready.")
    add_up_options(up)
    up.add_argument("--headless", action="store_true",
                    help="run the control plane in the foreground (no UI) until SIGINT/SIGTERM")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop a cluster: its control plane, nodes and networks",
                          description="Stop a cluster: its control-plane process, its node "
                                      "containers or processes and its networks. --purge also deletes its state "
                                      "(store, certificates, kubeconfig).")
    add_cluster_selector(down)
    down.add_argument("--purge", action="store_true", help="also delete the cluster's state directory")
    down.set_defaults(func=cmd_down)

    logs = sub.add_parser("logs", help="a cluster process's log: control-plane",
                          description="Print the log of the cluster's control-plane process "
                                      "(DIR/control-plane.log); -f follows it while it runs.")
    logs.add_argument("component", choices=("control-plane",))
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing while the control plane runs")
    add_cluster_selector(logs)
    logs.set_defaults(func=cmd_logs)

    kc = sub.add_parser("kubectl", help="run the real kubectl against the cluster",
                        description="Run the real kubectl with the cluster's kubeconfig. "
                                    "Put kubetui's own options before `kubectl`: "
                                    "`kubetui --name lab kubectl get pods`.",
                        add_help=False)
    kc.add_argument("kubectl_args", nargs=argparse.REMAINDER, help="arguments passed to kubectl")
    kc.set_defaults(func=cmd_kubectl)

    bench = sub.add_parser("bench", help="benchmarks (print figures; --json for machines)",
                           description="Benchmarks that measure kubetui against its speed targets. "
                                       "Each prints a table, or JSON with --json.")
    bench_sub = bench.add_subparsers(dest="bench", metavar="BENCH")
    for mod in BENCH_MODULES:
        importlib.import_module(mod).register(bench_sub)
    bench.set_defaults(func=lambda a: (bench.print_help(), 0)[1])

    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(sub)
    return parser


def cmd_kubectl(args: argparse.Namespace) -> int:
    if args.kubectl_args in (["-h"], ["--help"]):
        print("usage: kubetui [--name N | --state-dir DIR] kubectl ARGS...\n\n"
              "Run the real kubectl against the cluster's kubeconfig (DIR/kubeconfig).\n"
              "kubectl's own help: kubetui kubectl -- --help")
        return 0
    kubeconfig = Path(args.kubeconfig) if args.kubeconfig else resolve_state_dir(args) / "kubeconfig"
    if not kubeconfig.exists():
        raise CLIError(f"no cluster at {kubeconfig.parent}: start one with `kubetui up`")
    extra = list(args.kubectl_args)
    if extra and extra[0] == "--":
        extra = extra[1:]
    os.execv(kubectl_binary(), [kubectl_binary(), f"--kubeconfig={kubeconfig}", *extra])
    return 0  # not reached


def cmd_up(args: argparse.Namespace) -> int:
    from kubetui.cmd.cluster import run_up
    return run_up(args, resolve_state_dir(args))


def cmd_down(args: argparse.Namespace) -> int:
    from kubetui.cmd.cluster import run_down
    return run_down(args, resolve_state_dir(args))


def cmd_logs(args: argparse.Namespace) -> int:
    from kubetui.cmd.cluster import cmd_logs as logs
    return logs(args, resolve_state_dir(args))


def cmd_tui(args: argparse.Namespace) -> int:
    from kubetui.cmd.cluster import run_tui
    return run_tui(args, resolve_state_dir(args))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Everything after `kubectl` belongs to kubectl, options included
    # (argparse's REMAINDER would eat a leading `--help` itself).
    passthrough: list[str] | None = None
    if "kubectl" in argv:
        i = argv.index("kubectl")
        argv, passthrough = argv[: i + 1], argv[i + 1:]
    args = parser.parse_args(argv)
    if passthrough is not None:
        args.kubectl_args = passthrough
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    func = getattr(args, "func", None) or cmd_tui
    try:
        return int(func(args) or 0)
    except CLIError as e:
        print(f"kubetui: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
