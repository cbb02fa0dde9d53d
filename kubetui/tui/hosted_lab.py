"""In a hosted class, which cluster a lesson runs on: the class's (shared), or the learner's own.

No Kubernetes counterpart. ``kubetui class serve --hosted`` starts each web
TUI session with ``KUBETUI_CLASS_LAB=shared`` (the class's cluster, as the
learner, in their namespace) or ``private`` (their own cluster, for the
``scope: cluster`` lesson named by ``KUBETUI_CLASS_LESSON``). A lesson that
needs the other kind of lab is not started here: the TUI asks the class
server to move the learner (``POST /class/v1/hosted/lab``, with the learner's
class token), then reloads the page, whose new session runs on the right
cluster. Outside a hosted class (no ``KUBETUI_CLASS_LAB``) nothing moves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

LAB_PATH = "/class/v1/hosted/lab"


def needs_move(scope: str, lesson_id: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether a lesson of ``scope`` must run in another session than this one.

    >>> needs_move("cluster", "10", {"KUBETUI_CLASS_LAB": "shared"})
    True
    >>> needs_move("namespace", "03", {"KUBETUI_CLASS_LAB": "shared"})
    False
    >>> needs_move("cluster", "10", {"KUBETUI_CLASS_LAB": "private", "KUBETUI_CLASS_LESSON": "10"})
    False
    >>> needs_move("cluster", "16", {"KUBETUI_CLASS_LAB": "private", "KUBETUI_CLASS_LESSON": "10"})
    True
    >>> needs_move("namespace", "03", {"KUBETUI_CLASS_LAB": "private", "KUBETUI_CLASS_LESSON": "10"})
    True
    >>> needs_move("cluster", "10", {})
    False
    """
    env = os.environ if env is None else env
    lab = env.get("KUBETUI_CLASS_LAB")
    if lab == "shared":
        return scope == "cluster"
    if lab == "private":
        return scope != "cluster" or lesson_id != env.get("KUBETUI_CLASS_LESSON")
    return False


def move(lesson_id: str | None, folder: Path | None = None) -> dict[str, Any]:
    """Ask the class to run ``lesson_id``'s lab for this learner (blocking: call from a thread).

    Returns the class's answer: ``{"lab": "private"|"shared", "url": page to reload}``; raises
    ``ClassError`` when the class refuses or cannot start the private cluster.
    """
    from kubetui.classroom.link import ClassError, class_dir, load_link, request, ssl_context

    folder = folder or class_dir()
    link = load_link(folder)
    if link is None:
        raise ClassError("this session has no class link")
    ctx = ssl_context((folder / "ca.crt").read_text())
    # a private cluster starting takes its `kubetui up`: seconds, longer on a busy machine
    return request(link["url"].rstrip("/") + LAB_PATH, method="POST", body={"lesson": lesson_id},
                   token=link["token"], ctx=ctx, timeout=300)
