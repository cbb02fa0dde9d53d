"""The busybox image's applet directory (kubetui.runtime.busybox), with a stand-in BusyBox binary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kubetui.runtime import busybox

# Answers `--list` and `wget --help` like Debian 12's BusyBox (no -T), and otherwise prints
# the applet it ran as and its arguments.
FAKE = f"""#!{sys.executable}
import os, sys
applet = os.path.basename(sys.argv[0])
args = sys.argv[1:]
if applet == "busybox" and args and args[0] not in ("--list",):
    applet, args = args[0], args[1:]
if applet == "busybox" and args == ["--list"]:
    print("sh\\nwget\\ntimeout\\nnslookup")
elif applet == "wget" and args == ["--help"]:
    print("Usage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR] [--post-data STR]")
else:
    print(applet, *args)
"""


def fake_busybox(tmp_path: Path) -> str:
    p = tmp_path / "busybox"
    p.write_text(FAKE)
    p.chmod(0o755)
    return str(p)


def test_no_busybox_means_no_applet_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(busybox, "find", lambda: None)
    assert busybox.install(tmp_path / "bin") is None


def test_applets_are_links_and_wget_minus_t_becomes_timeout(tmp_path):
    bb = fake_busybox(tmp_path)
    d = busybox.install(tmp_path / "bin", bb)
    assert d == tmp_path / "bin"
    assert os.readlink(d / "sh") == bb and os.readlink(d / "nslookup") == bb
    assert not (d / "wget").is_symlink()          # the -T wrapper (this BusyBox has no -T)
    if not Path("/bin/sh").exists():
        return
    # the wrapper is a BusyBox-sh script; run it with the node's sh here (same POSIX syntax)
    def run(*args: str) -> str:
        return subprocess.run(["sh", str(d / "wget"), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert run("-q", "-O", "-", "-T", "3", "http://web") == "timeout 3 " + bb + " wget -q -O - http://web"
    assert run("-qO-", "-T3", "http://web") == "timeout 3 " + bb + " wget -qO- http://web"
    assert run("--timeout=5", "--post-data", "a b", "http://web") == \
        "timeout 5 " + bb + " wget --post-data a b http://web"
    assert run("-q", "http://web") == "wget -q http://web"
    # install again (every kubelet start): idempotent
    assert busybox.install(tmp_path / "bin", bb) == d
