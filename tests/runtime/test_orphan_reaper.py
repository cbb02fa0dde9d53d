"""The runtime's process is a child subreaper (the zygote's containers are its children): orphans
that end after their parent are reparented to it, and it must reap them as PID 1 would."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_CHILD_SUBREAPER is Linux's")

CODE = textwrap.dedent("""
    import os, subprocess, time
    from kubetui.runtime.zygote import OrphanReaper, become_subreaper, zombie_children
    become_subreaper()
    # the subshell exits at once; its sleep, orphaned, is reparented to this process and ends
    subprocess.run(["sh", "-c", "(sleep 0.2 &) ; exit 0"], check=True)
    for _ in range(100):
        if zombie_children():
            break
        time.sleep(0.05)
    orphans = zombie_children()
    kept = subprocess.Popen(["true"])     # a child of ours someone waits for: left alone
    kept_pid = kept.pid
    time.sleep(0.3)
    reaper = OrphanReaper(lambda: {kept_pid})
    reaper.scan()                          # first sighting: not yet
    first = reaper.reaped
    reaper.scan()                          # still there: reaped
    print(len(orphans), first, reaper.reaped, sorted(zombie_children()) == [kept_pid], kept.wait())
""")


def test_orphans_a_subreaper_inherits_are_reaped_on_the_second_sighting():
    root = str(Path(__file__).resolve().parents[2])
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"}, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0", "1", "True", "0"]
