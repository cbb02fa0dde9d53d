"""Running the real kubectl (and kubetui's own commands) from the TUI's command bar.

A learner types ``kubectl get pods -o wide`` and sees exactly what kubectl
prints, because it *is* kubectl (as k9s shells out to it), pointed at this
cluster's kubeconfig. ``kubetui explain pod hello``, as the lessons write it,
runs kubetui's own command the same way: a subprocess of this Python
(``python -m kubetui``) told which cluster by ``KUBETUI_STATE_DIR``, so the
TUI imports no CLI code.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


def find_kubectl(explicit: str | None = None) -> str:
    """The kubectl binary: explicit, next to this Python (the venv's), or on PATH."""
    if explicit:
        return explicit
    beside = Path(sys.executable).with_name("kubectl")
    if beside.exists():
        return str(beside)
    return shutil.which("kubectl") or "kubectl"


def kubectl_argv(args: list[str], kubeconfig: Path | None, kubectl: str | None = None) -> list[str]:
    argv = [find_kubectl(kubectl)]
    if kubeconfig is not None:
        argv += ["--kubeconfig", str(kubeconfig)]
    return argv + args


def parse_command(line: str) -> list[str]:
    """Split a command-bar line into kubectl's arguments.

    >>> parse_command("kubectl get pods -n kube-system")
    ['get', 'pods', '-n', 'kube-system']
    >>> parse_command("get po")
    ['get', 'po']
    """
    words = shlex.split(line.strip())
    if words and words[0] in ("kubectl", "k"):
        words = words[1:]
    return words


def parse_command_line(line: str) -> tuple[str, list[str]]:
    """Which program a command-bar line runs, and its arguments.

    Only an explicit ``kubetui`` prefix runs kubetui's own command; anything
    else is kubectl's, with or without the ``kubectl`` prefix.

    >>> parse_command_line("kubetui explain pod hello")
    ('kubetui', ['explain', 'pod', 'hello'])
    >>> parse_command_line("explain pod")
    ('kubectl', ['explain', 'pod'])
    >>> parse_command_line("kubetui kubectl get pods")
    ('kubectl', ['get', 'pods'])
    """
    words = shlex.split(line.strip())
    if words and words[0] == "kubetui":
        if words[1:2] == ["kubectl"]:
            return "kubectl", words[2:]
        return "kubetui", words[1:]
    return "kubectl", parse_command(line)


def echo_line(line: str) -> str:
    """The command line to echo for what the user typed: their own words and quotes, as typed.

    Only a missing or abbreviated ``kubectl`` is spelled out, so the echo stays a
    command a terminal would run the same way (re-joining the parsed words would drop
    the user's quotes: ``--overrides={"a": 1}`` would read as a different command).

    >>> echo_line("get po")
    'kubectl get po'
    >>> echo_line("k get po")
    'kubectl get po'
    >>> echo_line("kubectl get pods -l 'app in (web)'")
    "kubectl get pods -l 'app in (web)'"
    >>> echo_line("kubetui explain pod")
    'kubetui explain pod'
    """
    line = line.strip()
    first = line.split(None, 1)[0] if line else ""
    if first in ("kubectl", "kubetui"):
        return line
    if first == "k":
        return "kubectl" + line[1:]
    return f"kubectl {line}"


#: kubetui commands that answer and exit (the others start clusters, servers or a second TUI)
KUBETUI_COMMANDS = ("explain", "store", "lessons", "fault", "logs", "drill", "--help", "-h", "--version")
#: ``kubetui drill`` actions for the command bar: the learner's, during a drill (``start`` sets up an
#: application for minutes, ``test`` starts clusters: a terminal's)
DRILL_ACTIONS = ("list", "status", "hint", "answer", "give-up", "report", "clean")
#: options that point a command at another cluster, credential or identity: a hosted class's web session
#: is one learner's, on their own lab, and its command bar may not reach past it (another learner's
#: kubeconfig or private cluster sits on the same machine)
ELSEWHERE = ("--kubeconfig", "--state-dir", "--name", "--server", "-s", "--context", "--cluster", "--user",
             "--token", "--as", "--as-group", "--as-uid", "--certificate-authority", "--client-certificate",
             "--client-key", "--username", "--password")


def kubetui_refusal(args: list[str], env: "dict[str, str] | None" = None) -> str | None:
    """Why ``kubetui ARGS`` cannot run in the command bar, or None if it can.

    >>> kubetui_refusal(["drill", "answer", "2"]) is None
    True
    >>> kubetui_refusal(["drill", "start", "oomkilled"]).split(" (")[0]
    'kubetui drill start takes minutes'
    >>> kubetui_refusal(["drill", "clean"], {"KUBETUI_CLASS_LAB": "private"}).split(":")[0]
    'the class runs this drill'
    """
    if not args or args[0] not in KUBETUI_COMMANDS:
        what = f"kubetui {args[0]}" if args else "kubetui"
        return (f"{what} does not run in the command bar (it would start a cluster, a server or another TUI); "
                f"run it in a terminal. Here: kubetui {' | '.join(c for c in KUBETUI_COMMANDS if c[0] != '-')}")
    if (why := hosted_refusal(args, env)) is not None:
        return why
    if args[0] == "lessons" and "--tui" in args:
        return "kubetui lessons start --tui opens another TUI: use ctrl+l here to pick a lesson"
    if args[0] == "logs" and ({"-f", "--follow"} & set(args)):
        return "kubetui logs --follow never ends: run it in a terminal (here: kubetui logs without -f)"
    if args[0] == "drill":
        action = next((a for a in args[1:] if not a.startswith("-")), None)
        hosted = bool((os.environ if env is None else env).get("KUBETUI_CLASS_LAB"))
        if hosted and action == "clean":
            return "the class runs this drill: kubetui drill give-up ends it (the teacher cleans up)"
        if action is not None and action not in DRILL_ACTIONS:
            return (f"kubetui drill {action} takes minutes (it sets up an application or starts clusters): run it "
                    f"in a terminal. Here: kubetui drill {' | '.join(DRILL_ACTIONS)}")
    return None


def hosted_refusal(args: list[str], env: "dict[str, str] | None" = None) -> str | None:
    """In a hosted class's web session: why a command line reaching another cluster or identity is refused.

    >>> hosted_refusal(["get", "pods", "--kubeconfig=/x"], {"KUBETUI_CLASS_LAB": "shared"})[:38]
    'this session is yours, on your own lab'
    >>> hosted_refusal(["get", "pods", "--kubeconfig=/x"], {}) is None
    True
    """
    if not (os.environ if env is None else env).get("KUBETUI_CLASS_LAB"):
        return None
    for a in args:
        opt = a.split("=", 1)[0]
        if opt in ELSEWHERE:
            return f"this session is yours, on your own lab: {opt} would point the command elsewhere"
    return None


@dataclass
class KubectlResult:
    argv: list[str]
    returncode: int
    output: str


async def run_kubectl(args: list[str], kubeconfig: Path | None, *, kubectl: str | None = None,
                      timeout: float = 30.0) -> KubectlResult:
    """Run kubectl to completion (bounded by ``timeout``) and capture stdout+stderr."""
    argv = kubectl_argv(args, kubeconfig, kubectl)
    env = dict(os.environ)
    # Editors and pagers would wait on a terminal the pane does not have.
    env.pop("KUBECTL_EXTERNAL_DIFF", None)
    env["KUBECTL_INTERACTIVE_DELETE"] = "false"
    return await _run(argv, env, timeout)


async def run_kubetui(args: list[str], state_dir: Path | None, *, columns: int | None = None,
                      timeout: float = 60.0) -> KubectlResult:
    """Run ``python -m kubetui ARGS`` against the cluster at ``state_dir`` and capture its output."""
    argv = [sys.executable, "-m", "kubetui", *args]
    env = dict(os.environ)
    if state_dir is not None:
        env["KUBETUI_STATE_DIR"] = str(state_dir)
    if columns:
        env["COLUMNS"] = str(columns)  # rich tables fit the pane instead of 80 columns
    return await _run(argv, env, timeout)


async def _run(argv: list[str], env: dict[str, str], timeout: float) -> KubectlResult:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=env)
    except FileNotFoundError:
        return KubectlResult(argv, 127, f"{Path(argv[0]).name} not found: {argv[0]}")
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        return KubectlResult(argv, -9, out.decode("utf-8", "replace") + f"\n(timed out after {timeout:g}s)")
    return KubectlResult(argv, proc.returncode or 0, out.decode("utf-8", "replace"))
