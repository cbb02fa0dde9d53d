"""``kubetui.agent.flags`` parses the agents' flags as argparse would (issue 18: argparse cost every node 0.25 MiB)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from kubetui.agent.flags import FlagParser


def both(prog: str = "kube-proxy"):
    """The same flags declared on argparse and on FlagParser."""
    parsers = (argparse.ArgumentParser(prog=prog), FlagParser(prog))
    for p in parsers:
        p.add_argument("--api-server", required=True, help="https://HOST:PORT")
        p.add_argument("--token-file", required=True)
        p.add_argument("--ca-file")
        p.add_argument("--mode", "--proxy-mode", dest="mode", choices=("iptables", "userspace"), default="iptables")
        p.add_argument("--port", type=int, default=10250)
        p.add_argument("--sync-period", type=float, default=30.0)
        p.add_argument("--set-alternatives", action="store_true")
        p.add_argument("--node-labels", default="")
    return parsers


@pytest.mark.parametrize("argv", [
    ["--api-server", "https://x:6443", "--token-file", "/t"],
    ["--api-server=https://x:6443", "--token-file=/t", "--ca-file", "/ca", "--port", "0", "--sync-period=2.5"],
    ["--token-file", "/t", "--api-server", "a", "--proxy-mode", "userspace", "--set-alternatives"],
    ["--token-file", "/t", "--api-server", "a", "--mode=userspace", "--node-labels", "", "--node-labels=a=b,c=d"],
])
def test_good_flags_parse_to_the_same_values(argv):
    ap, fp = both()
    assert vars(fp.parse_args(argv)) == vars(ap.parse_args(argv))


@pytest.mark.parametrize("argv", [
    ["--token-file", "/t"],                                                     # required missing
    [],
    ["--api-server", "a", "--token-file", "/t", "--port", "x"],                 # bad int
    ["--api-server", "a", "--token-file", "/t", "--sync-period=soon"],          # bad float
    ["--api-server", "a", "--token-file", "/t", "--mode", "ipvs"],              # not a choice
    ["--api-server", "a", "--token-file", "/t", "--bogus", "1"],                # unknown
    ["--api-server", "a", "--token-file"],                                      # value missing
    ["--api-server", "a", "--token-file", "--ca-file", "x"],                    # value missing (next is a flag)
    ["--api-server", "a", "--token-file", "/t", "--set-alternatives=yes"],      # a switch with a value
])
def test_bad_flags_fail_with_argparses_status_and_message(argv, capsys):
    ap, fp = both()
    with pytest.raises(SystemExit) as want:
        ap.parse_args(argv)
    want_err = capsys.readouterr().err.strip().splitlines()[-1]
    with pytest.raises(SystemExit) as got:
        fp.parse_args(argv)
    got_err = capsys.readouterr().err.strip().splitlines()
    assert got.value.code == want.value.code == 2
    assert got_err[-1] == want_err
    assert got_err[0].startswith("usage: kube-proxy ")


def test_help_lists_every_flag_and_exits_0(capsys):
    _, fp = both()
    with pytest.raises(SystemExit) as e:
        fp.parse_args(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert "--mode {iptables,userspace}, --proxy-mode {iptables,userspace}" in out and "https://HOST:PORT" in out


def test_the_node_agents_load_no_argparse():
    """The agents' process parses the kubelet's, kube-proxy's and the NetworkPolicy agent's flags
    without argparse (it used to: ~0.25 MiB of every node, for as long as it runs)."""
    code = ("import sys; import kubetui.agent.__main__, kubetui.kubelet.__main__ as k, kubetui.proxy.__main__ as p, "
            "kubetui.netpol.__main__ as n\n"
            "common = ['--api-server', 'https://10.0.0.1:6443', '--token-file', '/t', '--node-name', 'n1']\n"
            "k.parse_args(common); p.parse_args(common); n.parse_args(common)\n"
            "print(sorted(m for m in ('argparse', 'gettext') if m in sys.modules))")
    root = str(Path(__file__).resolve().parents[2])
    # -S: no site-packages .pth files (an editable install's finder imports modules of its own)
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"}).stdout
    assert out.strip() == "[]"
