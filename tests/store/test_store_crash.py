"""kill -9 in the middle of a write storm loses no acknowledged write."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubetui.store import Store
from kubetui.store.recovery import recover

WRITER = Path(__file__).with_name("crash_writer.py")


def storm_then_kill(directory: Path, run: str, acks_before_kill: int, writers: int = 32) -> list[tuple[str, str, int]]:
    """Run the storm, SIGKILL it after ``acks_before_kill`` acknowledgements, return every ack."""
    proc = subprocess.Popen([sys.executable, str(WRITER), str(directory), str(writers), run],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    buf = b""
    deadline = time.monotonic() + 30
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while buf.count(b"\n") < acks_before_kill + 1:
            assert time.monotonic() < deadline, "the write storm did not get going"
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            if sel.select(timeout=1):
                buf += os.read(proc.stdout.fileno(), 1 << 16)
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=10)  # acks printed before the kill, still in the pipe
        buf += rest
    finally:
        sel.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    acks = []
    for line in buf.decode().splitlines():
        op, key, rev = line.split()
        if op != "OPEN":
            acks.append((op, key, int(rev)))
    return acks


async def check_store(directory: Path, acks: list[tuple[str, str, int]]) -> None:
    rec = recover(directory, read_only=True)
    # Every replayed record follows the one before it: no gaps, nothing twice.
    revs = [e.revision for _, e in rec.events]
    assert revs == list(range(revs[0], revs[0] + len(revs)))
    assert not rec.events or rec.revision == revs[-1]
    async with Store(directory) as s:
        assert s.revision == rec.revision
        last: dict[str, tuple[str, int]] = {}
        for op, key, rev in acks:
            last[key] = (op, rev)
        for key, (op, rev) in last.items():
            kv = s.get(key)
            if op == "DELETE":
                assert kv is None, f"acknowledged delete of {key} at {rev} lost"
            else:
                # The next write of this key may have reached the disk unacknowledged.
                assert kv is not None or any(e.type == "DELETE" and e.kv.key == key and e.revision > rev
                                             for e in s.history(key)), f"acknowledged {key}@{rev} lost"
                if kv is not None:
                    assert kv.mod_revision >= rev, f"{key}: acknowledged {rev}, found {kv.mod_revision}"
                    assert kv.value["metadata"]["resourceVersion"] == str(kv.mod_revision)
        assert max(rev for _, _, rev in acks) <= s.revision
        assert max(kv.mod_revision for kv in s.range("/")) <= s.revision
        events = s.events()
        assert events[-1].revision == s.revision, "the revision counter is the last write's"
        # And the store takes writes again.
        kv = await s.create(f"/registry/pods/after/crash-{s.revision}", {"metadata": {"name": "crash"}})
        assert kv.mod_revision == rec.revision + 1
    json.loads((directory / "state.json").read_text())  # the checkpoint file loads


async def test_kill_9_mid_storm_loses_no_acknowledged_write(tmp_path: Path) -> None:
    acks = storm_then_kill(tmp_path, "a", 1500)
    assert len(acks) >= 1500
    await check_store(tmp_path, acks)
    # Once more on the recovered store: a second crash, a second recovery.
    acks2 = storm_then_kill(tmp_path, "b", 1000)
    assert min(rev for _, _, rev in acks2) > max(rev for _, _, rev in acks)
    await check_store(tmp_path, acks + acks2)
