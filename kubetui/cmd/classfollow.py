"""``kubetui class follow``: a learner's terminal that follows the class and does what the teacher asks.

For learners working from the command line (the TUI follows the class by
itself): long-polls the class server for notes meant for this learner,
prints messages, hints and pause/resume, and carries out the teacher's
``reset`` (lesson to a step) and ``drill`` (start, with the class's seed) on
this learner's cluster (``--name``/``--state-dir``), see ``kubetui/classwork.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from kubetui.cmdutil import CLIError, add_cluster_selector

#: seconds a long-poll may wait for a note, and to wait after the server could not be reached
POLL_WAIT = 25
RETRY_SECONDS = 5.0


def register(sub: Any) -> None:
    f = sub.add_parser("follow", help="learner: show the teacher's messages and carry out resets and drills")
    add_cluster_selector(f)
    f.add_argument("--learner", default=argparse.SUPPRESS, help="whose lesson progress (default: $USER)")
    f.add_argument("--once", action="store_true", help="fetch and carry out what is waiting, then exit")
    f.set_defaults(func=run_follow)


def run_follow(args: argparse.Namespace) -> int:
    from kubetui.classroom.inbox import Inbox, describe
    from kubetui.classroom.link import ClassError
    from kubetui.classwork import Lab, carry_out_pending
    from kubetui.cmd.lessons import _library, learner_of, state_dir_of

    box = Inbox()
    if not box.linked():
        raise CLIError("this machine has not joined a class: kubetui class join URL --code CODE --name NAME")
    lab = Lab(state_dir_of(args), learner_of(args), _library(args), say=lambda m: print(f"... {m}", flush=True))
    if not args.once:
        print(f"following the class for lessons on {lab.state_dir} (Ctrl+C stops)", flush=True)
    try:
        while True:
            try:
                box.poll(wait=0 if args.once else POLL_WAIT)
            except ClassError as e:
                if args.once:
                    raise CLIError(str(e)) from None
                print(f"class server not reached ({e}): trying again in {RETRY_SECONDS:.0f}s", flush=True)
                time.sleep(RETRY_SECONDS)
                continue
            for note in box.unseen():
                print(describe(note), flush=True)
            for line in asyncio.run(carry_out_pending(lab, box)):
                print(line, flush=True)
            if args.once:
                return 0
    except KeyboardInterrupt:
        return 0
