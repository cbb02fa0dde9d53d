"""``kubetui drill test``: every drill proves itself on a real cluster (for CI).

For each drill (seeded): start it (the app comes up healthy, the fault is
injected) → the prober must see the service go DOWN → each ``wrong``
mitigation, run as the learner, must NOT count as mitigated → the
``reference`` mitigation must restore service and pass the drill's checks →
the reference's own writes must not count as collateral damage → clean up.

Drills share one cluster, each in its own namespace; drills marked
``exclusive`` (taints, paused nodes: the whole cluster feels them) run alone,
the others a few at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

from kubetui.drills import score as scoring
from kubetui.drills.format import Drill
from kubetui.drills.run import DrillEnv, DrillRunError, DrillRunner

log = logging.getLogger(__name__)

BREAK_TIMEOUT = 60.0
WRONG_WINDOW = 10.0
MITIGATE_TIMEOUT = 120.0
PARALLEL = 3


@dataclass
class DrillTest:
    drill: str
    passed: bool = False
    phase: str = ""          # start / break / wrong N / reference / collateral / clean
    message: str = ""
    seconds: float = 0.0
    variant: str = ""


async def _until(pred, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await pred()
        if value or time.monotonic() >= deadline:
            return value
        await asyncio.sleep(interval)


async def selftest_drill(drill: Drill, env: DrillEnv, *, seed: int = 1, learner: str = "drill-selftest",
                         wrong_window: float = WRONG_WINDOW, progress: Callable[[str], None] = lambda m: None
                         ) -> DrillTest:
    out = DrillTest(drill.id)
    t_start = time.monotonic()
    runner = DrillRunner(env, f"{learner}-{drill.id}", progress=lambda m: progress(f"{drill.id}: {m}"))
    phase = "start"
    try:
        inc, rec = await runner.start(drill, seed, alone=False)
        out.variant = inc.variant
        values = inc.values(rec.namespace)
        phase = "break"

        expect_down = drill.prober.get("expect_down", True)

        async def broken():
            st = await runner.status(drill)
            if not expect_down:         # a fault the prober cannot see (a CronJob): the checks must fail
                return not all(r.passed for r in st.checks)
            return any(not s.get("ok") for s in st.samples if s.get("t", 0) >= (rec.t0 or 0))
        if not await _until(broken, BREAK_TIMEOUT):
            raise DrillRunError(f"the fault did not break anything within {BREAK_TIMEOUT:.0f}s: " +
                                ("the prober never saw the service go down" if expect_down else
                                 "the drill's checks still pass"))
        for i, wrong in enumerate(drill.wrong, 1):
            phase = f"wrong {i}"
            progress(f"{drill.id}: wrong mitigation {i}")
            await runner.act(wrong, drill, values, as_learner=True)
            await asyncio.sleep(wrong_window)
            st = await runner.status(drill)
            if st.mitigated_at is not None:
                raise DrillRunError(f"wrong mitigation {i} ({wrong}) counted as mitigated")
        phase = "reference"
        progress(f"{drill.id}: reference mitigation")
        ref_start = runner.now()
        await runner.act(drill.reference, drill, values, as_learner=True)

        async def mitigated():
            return (await runner.status(drill)).mitigated_at
        if not await _until(mitigated, MITIGATE_TIMEOUT):
            st = await runner.status(drill)
            bad = [f"{r.label}: {r.detail}" for r in st.checks if not r.passed]
            last = st.samples[-1].get("results") if st.samples else "no samples"
            raise DrillRunError(f"not mitigated {MITIGATE_TIMEOUT:.0f}s after the reference mitigation; "
                                f"prober: {last}; checks failing: {bad or 'none'}")
        phase = "collateral"
        runner.answer(drill, str(drill.question.answer + 1) if drill.question.choices else _an_accepted(drill))
        await asyncio.sleep(0.6)          # the audit log is flushed every 0.2 s
        rec2, sc, _, audit = await runner.report(drill)
        mine = scoring.learner_actions(audit, rec2.learner_user, ref_start, runner.now())
        if not drill.exclusive:
            # drills tested side by side share the learner's identity: judge only this namespace's writes
            mine = [ev for ev in mine if (ev.get("objectRef") or {}).get("namespace") == rec2.namespace]
        harm = scoring.collateral(mine, rec2.namespace, rec2.touches)
        if harm:
            raise DrillRunError(f"the reference mitigation's own writes count as collateral damage: {harm} "
                                f"(add them to the variant's touches)")
        if sc.diagnosis_points != scoring.DIAGNOSIS_POINTS[0] or not sc.mitigated:
            raise DrillRunError(f"the reference run did not score as mitigated and diagnosed: {sc.lines()}")
        out.passed = True
    except DrillRunError as e:
        out.phase, out.message = phase, str(e)
    except Exception as e:  # noqa: BLE001 - one drill's failure must not stop the others
        log.debug("drill %s", drill.id, exc_info=True)
        out.phase, out.message = phase, f"{type(e).__name__}: {e}"
    finally:
        try:
            await runner.clean(drill.id)
        except Exception as e:  # noqa: BLE001
            out.passed = False
            out.phase, out.message = out.phase or "clean", out.message or f"cleanup failed: {e}"
    out.seconds = time.monotonic() - t_start
    return out


def _an_accepted(drill: Drill) -> str:
    import re
    pattern = drill.question.accept[0]
    return re.sub(r"[\\^$()?*+\[\]|]", "", pattern.split("|")[0])


async def selftest_drills(drills: list[Drill], env: DrillEnv, *, seed: int = 1, parallel: int = PARALLEL,
                          progress: Callable[[str], None] = lambda m: None) -> list[DrillTest]:
    """Shared drills a few at a time, then the exclusive ones alone; results in the given order."""
    results: dict[str, DrillTest] = {}
    runnable = []
    for d in drills:
        problem = env.unmet(d)
        if problem:
            results[d.id] = DrillTest(d.id, False, "start", problem)
        else:
            runnable.append(d)
    sem = asyncio.Semaphore(parallel)

    async def one(d: Drill) -> None:
        async with sem:
            results[d.id] = await selftest_drill(d, env, seed=seed, progress=progress)
    await asyncio.gather(*(one(d) for d in runnable if not d.exclusive))
    for d in runnable:
        if d.exclusive:
            results[d.id] = await selftest_drill(d, env, seed=seed, progress=progress)
    return [results[d.id] for d in drills]
