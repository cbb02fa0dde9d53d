"""Hot reload: editing lesson.md yields the new lesson; a broken edit yields file:line, others keep working."""

from __future__ import annotations

import asyncio

from kubetui.lessons.watch import LessonLibrary, watch_library

GOOD = "---\nid: a\ntitle: {title}\n---\n## Step\n```check\n- count: {{resource: nodes}}\n  fail: x\n```\n"


async def test_edits_reload_and_errors_name_the_line(tmp_path):
    for name in ("01-a", "02-b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "lesson.md").write_text(GOOD.format(title=name).replace("id: a", f"id: {name}"))
    lib = LessonLibrary.load(tmp_path)
    assert [lesson.title for lesson in lib.ordered()] == ["01-a", "02-b"]
    stop = asyncio.Event()
    updates = []

    async def collect():
        async for u in watch_library(lib, stop=stop, debounce_ms=50):
            updates.append(u)

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.3)         # let the watcher start
    path = tmp_path / "01-a" / "lesson.md"

    async def next_update(n: int):
        for _ in range(200):          # bounded: 10 s
            if len(updates) >= n:
                return updates[n - 1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no update {n}: {updates}")

    path.write_text(GOOD.format(title="Renamed").replace("id: a", "id: 01-a"))
    u = await next_update(1)
    assert u.lesson is not None and u.lesson.title == "Renamed" and u.error is None
    assert lib.get("01-a").title == "Renamed"

    path.write_text("---\nid: 01-a\ntitle: T\n---\n## Step\n```check\n- exists: {resource: pods}\n  fail: x\n```\n")
    u = await next_update(2)
    assert u.error is not None and u.error.line == 7 and "exists needs name" in u.one_line
    assert u.one_line.startswith(str(path) + ":7: ")
    assert lib.get("01-a").title == "Renamed"          # the last good version stays
    assert lib.get("02-b").title == "02-b"             # and the others keep working
    stop.set()
    await asyncio.wait_for(task, 5)
