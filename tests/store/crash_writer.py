"""A write storm for the crash test: run as ``python crash_writer.py DIR WRITERS RUN``.

Each writer owns its keys: it creates one, updates it with compare-and-swap,
deletes every third one, and prints ``<op> <key> <revision>`` to stdout the
moment each write is acknowledged (flushed at once). The test SIGKILLs this
process mid-storm and checks every printed write survived.
"""

import asyncio
import sys

from kubetui.store import Store

PAD = "x" * 1500  # pod-sized values


def emit(op: str, key: str, rev: int) -> None:
    sys.stdout.write(f"{op} {key} {rev}\n")
    sys.stdout.flush()


async def writer(store: Store, w: int) -> None:
    i = 0
    while True:
        key = f"/registry/pods/{sys.argv[3]}-w{w}/p{i}"
        value = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"}, "spec": {"pad": PAD}}
        kv = await store.create(key, value)
        emit("PUT", key, kv.mod_revision)
        value["status"] = {"phase": "Running"}
        kv = await store.update(key, value, expected_mod_revision=kv.mod_revision)
        emit("PUT", key, kv.mod_revision)
        if i % 3 == 0:
            kv = await store.delete(key, expected_mod_revision=kv.mod_revision)
            emit("DELETE", key, kv.mod_revision)
        i += 1


async def main() -> None:
    store = Store(sys.argv[1], checkpoint_every=300)  # checkpoints happen mid-storm too
    await store.open()
    emit("OPEN", "-", store.revision)
    await asyncio.gather(*(writer(store, w) for w in range(int(sys.argv[2]))))


asyncio.run(main())
