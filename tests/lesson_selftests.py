"""The lessons' self-tests, run in the background of the test session (``LessonSelfTests``).

``tests/lessons`` reads them (``conftest.py``: ``docker_lesson_results``, ``shipped_results``). The Docker
lessons' group starts earlier, with the drills package's first test (``tests/drills/conftest.py``): the
drills' self-tests mostly wait (~15% of a core for the local ones), so the Docker lessons' clusters run
beside them rather than on the lessons package's clock. Each group starts once per session, whoever asks
first (``start``), and is stopped and waited for when the session ends.
"""

from __future__ import annotations

#: Docker lessons self-tested side by side (each a fresh 3-node Docker cluster of its own)
DOCKER_LANES = 2
#: simulated/local lessons self-tested side by side (each a fresh cluster; local ones one at a time)
LANES = 3
#: the selected tests that read a shipped (simulated/local) lesson's self-test
SHIPPED_TEST = "test_shipped_lesson_passes_its_selftest"

# One lesson's self-test in a process of its own, as `kubetui lessons test ID` runs it (a fresh cluster,
# deleted after), printing the whole LessonTest (the modules check which checks failed before each step).
_SELFTEST_ONE = """
import argparse, asyncio, dataclasses, json, sys
from kubetui.cmd.lessons import lessons_root
from kubetui.lessons.format import discover, load_lesson
from kubetui.lessons.selftest import selftest_lessons
lesson = next(l for l in map(load_lesson, discover(lessons_root(argparse.Namespace()))) if l.id == sys.argv[1])
[r] = asyncio.run(selftest_lessons([lesson], step_timeout=60))
print("LESSONTEST " + json.dumps(dataclasses.asdict(r)))
"""


def _docker_lessons_wanted(session) -> list[str]:
    """The Docker lessons whose self-test a selected test reads: its ``lesson`` parameter, else its
    module's ``SELFTESTED`` (test name -> lesson id)."""
    wanted: list[str] = []
    for item in session.items:
        if "docker_lesson_results" not in getattr(item, "fixturenames", ()):
            continue
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "lesson" in callspec.params:
            lesson_id = callspec.params["lesson"].id
        else:
            lesson_id = getattr(item.module, "SELFTESTED", {}).get(getattr(item, "originalname", item.name))
        if lesson_id and lesson_id not in wanted:
            wanted.append(lesson_id)
    return wanted


def _shipped_lessons_wanted(session) -> list:
    """The shipped simulated/local lessons whose self-test a selected ``test_selftest.py`` case reads."""
    wanted: dict[str, object] = {}
    for item in session.items:
        if getattr(item, "originalname", "") == SHIPPED_TEST and hasattr(item, "callspec"):
            lesson = item.callspec.params["lesson"]
            wanted.setdefault(lesson.id, lesson)
    return list(wanted.values())


class LessonSelfTests:
    """The selected lessons' self-tests, all started together in a thread of the test process.

    Each lesson runs in a process of its own on a fresh cluster of its own, torn down after: the API
    server's served custom resources are process-wide (``kubetui.api.resources.set_custom_resources``), so
    two clusters in one process are not independent, and a lesson's result must not depend on what another
    left. Most of a lesson's time is waiting (pods starting, probes, controllers' windows, the HPA's), so
    the Docker lessons (``DOCKER_LANES`` at a time: ``lt-<lesson>-<random>`` containers, network and
    volumes of their own) and the simulated and local ones (``LANES`` at a time) overlap each other and
    the other tests (the Docker group: the drills package's and this one's; the other: this one's). Local-provider lessons run one at a time (each local cluster owns loopback
    addresses of its own, ``kubetui.providers.loopback``, but their pods share this machine's /tmp and CPU,
    and side by side has not been measured). ``test_etcd_lessons.py``'s clusters wait until all are over
    (``done``): three API servers and three etcd members on two cores, whose checks allow etcdctl 1 s to
    dial and 2 s to answer. (Their ingress ports are held from their choice on since a lesson's cluster,
    started in between, took 8080 once and lesson 23's start failed: ``HAControlPlane.choose_ingress_ports``.)
    """

    def __init__(self, docker_ids: list[str], shipped: list, tmp) -> None:
        import threading
        from concurrent.futures import Future
        self.docker_ids, self.shipped_lessons, self.tmp = docker_ids, shipped, tmp
        self.docker: Future = Future()          # lesson id -> LessonTest
        self.shipped: Future = Future()         # lesson id -> (exit code, output, JUnit testsuite element)
        self.done = threading.Event()           # every self-test is over
        self.procs: set = set()

    def run(self) -> None:
        import asyncio
        try:
            asyncio.run(self._all())
        finally:
            self.done.set()
            for fut in (self.docker, self.shipped):
                if not fut.done():
                    fut.set_exception(RuntimeError("the lessons' self-test run ended early"))

    async def _all(self) -> None:
        import asyncio
        docker_lanes, lanes, local = asyncio.Semaphore(DOCKER_LANES), asyncio.Semaphore(LANES), asyncio.Lock()

        async def group(future, jobs) -> None:
            try:
                future.set_result(dict(await asyncio.gather(*jobs)))
            except BaseException as e:  # noqa: BLE001 - the tests reading this group report it
                future.set_exception(e)
        from kubetui.lessons.selftest import provider_for
        shipped = sorted(self.shipped_lessons, key=lambda lesson: provider_for(lesson) != "local")
        local_ids = {lesson.id for lesson in shipped if provider_for(lesson) == "local"}

        async def local_one(lesson):
            async with local:
                return await self._shipped_one(lesson, lanes)

        await asyncio.gather(
            group(self.docker, [self._docker_one(i, docker_lanes) for i in self.docker_ids]),
            group(self.shipped, [local_one(lesson) if lesson.id in local_ids else self._shipped_one(lesson, lanes)
                                 for lesson in shipped]))

    async def _proc(self, argv: list[str], stderr) -> tuple[int, bytes, bytes]:
        """Run ``argv`` (bounded) and return its exit code and output; an ``OSError`` starting it is exit 127
        with the error as its output, so one lesson's failure cannot fail its whole group."""
        import asyncio
        try:
            # its environment given (copied now): this thread's vfork child would otherwise exec with the
            # process's ``environ``, which a test's ``monkeypatch.setenv`` in the main thread can reallocate
            # meanwhile (seen: OSError [Errno 14] Bad address)
            proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=stderr,
                                                        env=snapshot_env())
        except OSError as e:
            return 127, f"could not start {argv[:4]}: {e}".encode(), f"could not start {argv[:4]}: {e}".encode()
        self.procs.add(proc)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 900)
        except asyncio.TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
        finally:
            self.procs.discard(proc)
        return proc.returncode, out, err or b""

    async def _docker_one(self, lesson_id: str, lanes):
        import asyncio
        import json
        import sys

        from kubetui.lessons.selftest import LessonTest, StepTest
        async with lanes:
            code, out, err = await self._proc([sys.executable, "-c", _SELFTEST_ONE, lesson_id],
                                              asyncio.subprocess.PIPE)
        line = next((ln for ln in out.decode().splitlines() if ln.startswith("LESSONTEST ")), None)
        if line is None:
            return lesson_id, LessonTest(lesson_id, "", error=f"the self-test process failed (exit "
                                         f"{code}): {err.decode(errors='replace')[-3000:]}")
        data = json.loads(line.split(" ", 1)[1])
        data["steps"] = [StepTest(**s) for s in data["steps"]]
        return lesson_id, LessonTest(**data)

    async def _shipped_one(self, lesson, lanes):
        """``kubetui lessons test ID --junit FILE``, as CI and a teacher run it."""
        import asyncio
        import sys
        import xml.etree.ElementTree as ET
        junit = self.tmp / f"{lesson.id}.xml"
        async with lanes:
            code, out, _ = await self._proc([sys.executable, "-m", "kubetui", "lessons", "test", lesson.id,
                                             "--junit", str(junit), "--step-timeout", "60"],
                                            asyncio.subprocess.STDOUT)
        suite = ET.parse(junit).getroot().find("testsuite") if junit.exists() else None
        return lesson.id, (code, out.decode(errors="replace"), suite)

    def stop(self) -> None:
        """The package ended before every self-test did (``-x``, an interrupt): interrupt them. A
        ``KeyboardInterrupt`` unwinds each one's ``fresh_cluster``, which stops and deletes its cluster."""
        import signal
        for proc in list(self.procs):
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)




def snapshot_env() -> dict[str, str]:
    """This process's environment now, for a child started from a thread other than the main one (see
    ``LessonSelfTests._proc``)."""
    import os
    return dict(os.environ)


def start(request, group: str) -> LessonSelfTests:
    """The session's run of ``group`` ("docker" or "shipped"): the selected lessons of that group, started
    now unless it already was (an empty run when none is selected, or Docker is absent for the Docker
    group: those tests skip, or fail in CI, through the Docker gate)."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import docker_available
    session = request.session
    runs = _RUNS.setdefault(id(session), {})
    if group in runs:
        return runs[group]
    docker_ids, shipped = [], []
    if group == "docker":
        docker_ids = _docker_lessons_wanted(session)
        if docker_ids and not docker_available()[0]:
            docker_ids = []
    else:
        shipped = _shipped_lessons_wanted(session)
    tmp = request.getfixturevalue("tmp_path_factory").mktemp(f"lessons-{group}")
    run = LessonSelfTests(docker_ids, shipped, tmp)
    pool = ThreadPoolExecutor(1, thread_name_prefix=f"lessons-{group}")
    future = pool.submit(run.run)
    runs[group] = run

    def finish() -> None:
        if not future.done():
            run.stop()
        pool.shutdown(wait=True)
    session.config.add_cleanup(finish)
    return run


_RUNS: dict[int, dict[str, LessonSelfTests]] = {}
