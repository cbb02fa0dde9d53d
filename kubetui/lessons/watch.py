"""The lesson library and its hot reload (``watchfiles``).

A teacher edits ``lesson.md`` in one window and sees the running TUI change
in the other: ``watch_library`` yields a ``LessonUpdate`` for every lesson
file that changed, carrying either the freshly parsed ``Lesson`` or the
``LessonError`` (file and line) that keeps it from loading. A broken lesson
never takes the others down: the library keeps the last good version beside
the error.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

from kubetui.lessons.format import Lesson, LessonError, discover, load_lesson

log = logging.getLogger(__name__)


@dataclass
class LessonUpdate:
    """One lesson file changed: parsed anew (``lesson``), broken (``error``), or ``deleted``."""

    path: Path
    lesson: Lesson | None = None
    error: LessonError | None = None
    deleted: bool = False

    @property
    def one_line(self) -> str:
        """What a status bar shows: ``lessons/03-x/lesson.md:12: message`` or ``reloaded <id>``."""
        if self.error is not None:
            return str(self.error)
        if self.deleted:
            return f"{self.path}: removed"
        return f"reloaded {self.lesson.id}: {self.lesson.title}" if self.lesson else str(self.path)


@dataclass
class LessonLibrary:
    """Every lesson under a root folder (``lessons/NN-slug/lesson.md``), plus the broken ones."""

    root: Path
    lessons: dict[Path, Lesson] = field(default_factory=dict)
    errors: dict[Path, LessonError] = field(default_factory=dict)

    @classmethod
    def load(cls, root: str | Path) -> "LessonLibrary":
        lib = cls(Path(root))
        for p in discover(lib.root):
            lib.reload(p)
        return lib

    def reload(self, path: Path) -> LessonUpdate:
        path = Path(path)
        if not path.exists():
            self.lessons.pop(path, None)
            self.errors.pop(path, None)
            return LessonUpdate(path, deleted=True)
        try:
            lesson = load_lesson(path)
        except LessonError as e:
            self.errors[path] = e
            return LessonUpdate(path, self.lessons.get(path), e)
        self.errors.pop(path, None)
        self.lessons[path] = lesson
        return LessonUpdate(path, lesson)

    def ordered(self) -> list[Lesson]:
        return [self.lessons[p] for p in sorted(self.lessons)]

    def get(self, ref: str) -> Lesson:
        """A lesson by id, folder name (``03-deployments``) or number (``3``)."""
        for path, lesson in sorted(self.lessons.items()):
            folder = path.parent.name
            if ref in (lesson.id, folder) or (ref.isdigit() and folder.split("-", 1)[0].lstrip("0") == ref.lstrip("0")):
                return lesson
        for path, err in self.errors.items():
            if ref in (path.parent.name,) or ref.isdigit() and path.parent.name.split("-", 1)[0].lstrip("0") == ref:
                raise err
        known = ", ".join(lesson.id for lesson in self.ordered()) or "none"
        raise KeyError(f"no lesson {ref!r} (lessons: {known})")


def _lesson_file_for(changed: Path, root: Path) -> Path | None:
    """The ``lesson.md`` a changed file belongs to (a manifest beside it counts)."""
    try:
        rel = changed.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    if len(rel.parts) < 2:
        return None
    return root / rel.parts[0] / "lesson.md"


async def watch_library(library: LessonLibrary, *, stop: asyncio.Event | None = None,
                        debounce_ms: int = 100, force_polling: bool | None = None
                        ) -> AsyncIterator[LessonUpdate]:
    """Yield an update per changed lesson until ``stop`` is set (or the task is cancelled)."""
    from watchfiles import awatch

    root = library.root
    async for changes in awatch(root, stop_event=stop, debounce=debounce_ms, step=50,
                                force_polling=force_polling, recursive=True):
        touched: dict[Path, None] = {}
        for _change, raw in changes:
            p = _lesson_file_for(Path(raw), root)
            if p is not None:
                touched[p] = None
        for p in touched:
            update = library.reload(p)
            if update.error is not None:
                log.warning("%s", update.error)
            yield update
