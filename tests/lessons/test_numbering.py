"""The shipped lessons' folders are numbered once each (two helpers once both took 15)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

LESSONS = Path(__file__).resolve().parents[2] / "lessons"


def test_each_lesson_number_is_used_once():
    numbers = Counter(p.name.split("-", 1)[0] for p in LESSONS.iterdir() if (p / "lesson.md").is_file())
    assert [n for n, count in numbers.items() if count > 1] == []
