"""A learner's kubetui carrying out what the teacher asked: reset a lesson to a step, start a drill.

No Kubernetes counterpart (issue 17). The teacher's dashboard posts a note to
one learner (``reset``) or to the class (``drill``); the learner's kubetui
fetches it with the learner's own class credential (``classroom/inbox.py``)
and runs it here, on the learner's own cluster, through the same engines the
learner's own commands use: ``LessonRun.reset(step)`` (cleanup, setup, the
solutions of the steps before it) and ``DrillRunner.start(drill, seed)``.
That is what keeps a reset from touching anyone else's lab: the only lab this
code can reach is the one this kubetui runs against.

It sits above ``lessons``, ``drills`` and ``classroom`` (it needs all three,
and none of them may import another's runner), below the TUI and the CLI,
which both call ``carry_out``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from kubetui.classroom.inbox import Inbox

log = logging.getLogger(__name__)


class ClassworkError(Exception):
    """A note that cannot be carried out here (unknown lesson, a cluster that cannot run the drill)."""


@dataclass
class Lab:
    """Where notes are carried out: the learner's cluster, their local learner name, the lessons."""

    state_dir: Path
    learner: str
    library: Any                      # a LessonLibrary
    client: Any = None                # the client to reuse (the TUI's), else one from the kubeconfig
    say: Callable[[str], None] = lambda m: None


async def reset_lesson(lab: Lab, lesson_ref: str, step: int | str, run: Any = None) -> tuple[Any, int]:
    """Reset ``lesson_ref`` to ``step`` (number from 1, or id) on the lab; returns (the run, step index).

    ``run``: the learner's open ``LessonRun`` of that lesson (the TUI's), so
    the screen follows; else a new one on the lab's cluster.
    """
    from kubetui.lessons import ActionError, LabEnv, LessonError, LessonRun

    try:
        lesson = run.lesson if run is not None else lab.library.get(lesson_ref)
        index = lesson.step_index(step)
    except (KeyError, LessonError, ValueError) as e:
        raise ClassworkError(str(e).strip("'\"")) from None
    own_client = run is None and lab.client is None
    if run is None:
        try:
            env = LabEnv.from_state_dir(lab.state_dir, client=lab.client)
        except ActionError as e:
            raise ClassworkError(str(e)) from None
        run = LessonRun(lesson, env, lab.learner)
    lab.say(f"resetting lesson {lesson.id} to step {index + 1} (as the teacher asked)")
    try:
        await run.reset(index)
    except ActionError as e:
        raise ClassworkError(f"reset of {lesson.id} to step {index + 1} failed: {e}") from None
    finally:
        if own_client:
            await run.env.client.close()
    return run, index


async def start_drill(lab: Lab, drill_id: str, seed: int) -> str:
    """``kubetui drill start DRILL --seed SEED`` on the lab's cluster; returns the drill's namespace."""
    from kubetui.drills import DrillEnv, DrillError, DrillRunError, DrillRunner, find

    try:
        drill = find(drill_id)
        env = DrillEnv.from_state_dir(lab.state_dir)
        if problem := env.unmet(drill):
            raise ClassworkError(problem)
        runner = DrillRunner(env, lab.learner, progress=lab.say)
        lab.say(f"starting drill {drill.id} (seed {seed}) as the teacher asked")
        _inc, rec = await runner.start(drill, seed)
    except DrillError as e:
        raise ClassworkError(e.message) from None
    except DrillRunError as e:
        raise ClassworkError(f"drill {drill_id}: {e}") from None
    return rec.namespace


async def carry_out(note: dict[str, Any], lab: Lab, *, run: Any = None) -> str:
    """Do what one ``reset``/``drill`` note asks; returns a line saying what was done."""
    kind = note.get("kind")
    if kind == "reset":
        same = run if run is not None and run.lesson.id == note.get("lesson") else None
        _run, index = await reset_lesson(lab, str(note.get("lesson")), note.get("step", 1), same)
        return f"The teacher reset your lab: lesson {note.get('lesson')} is back at step {index + 1}."
    if kind == "drill":
        ns = await start_drill(lab, str(note.get("drill")), int(note.get("seed", 1)))
        return (f"The teacher started drill {note.get('drill')} (seed {note.get('seed')}) in namespace {ns}: "
                "kubetui drill status | answer | hint | report")
    raise ClassworkError(f"nothing to carry out for a {kind!r} note")


def done_by_class_server(env: Mapping[str, str] | None = None) -> bool:
    """Whether the class server itself carries out ``reset``/``drill`` notes for this kubetui.

    In a hosted class (``KUBETUI_CLASS_LAB`` set: a web TUI the class server
    started) the learner's labs are on the class machine, and the server
    resets them and starts drills there itself, open TUI or not; the TUI must
    not do it again. A joined learner's kubetui (join mode) does it itself.

    >>> done_by_class_server({"KUBETUI_CLASS_LAB": "shared"}), done_by_class_server({})
    (True, False)
    """
    env = os.environ if env is None else env
    return bool(env.get("KUBETUI_CLASS_LAB"))


def follow(note: dict[str, Any], run: Any = None) -> str:
    """A note the class server already carried out: the open lesson run follows (read again from the
    progress log the server's reset wrote to); returns the line to show."""
    if note.get("kind") == "reset":
        if run is not None and run.lesson.id == note.get("lesson"):
            run.reload()
            return f"The teacher reset your lab: lesson {note.get('lesson')} is back at step {run.index + 1}."
        return f"The teacher reset your lab: lesson {note.get('lesson')}, step {note.get('step')}."
    return (f"The teacher started drill {note.get('drill')} (seed {note.get('seed')}): it runs on a cluster of "
            "your own (this page moves there when it is ready).")


async def carry_out_pending(lab: Lab, inbox: Inbox | None = None, *, run: Any = None,
                            env: Mapping[str, str] | None = None) -> list[str]:
    """Take every pending ``reset``/``drill`` note (no other kubetui will) and carry it out, in order.

    A note that fails is reported, not retried: the learner sees why (and the
    teacher can send it again). In a hosted class the server has carried it
    out already: only the open lesson follows (``follow``).
    """
    box = inbox or Inbox()
    done = []
    if done_by_class_server(env):
        return [follow(note, run) for note in box.take()]
    for note in box.take():
        try:
            done.append(await carry_out(note, lab, run=run))
        except ClassworkError as e:
            log.warning("class note %s: %s", note.get("n"), e)
            done.append(f"Could not do what the teacher asked ({note.get('kind')}): {e}")
    return done
