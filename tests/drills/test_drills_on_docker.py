"""The Docker-only drills (OOMKilled needs cgroups, DNS needs the cluster DNS, NetworkPolicy needs the
policy agent) self-tested on a fresh 2-node Docker cluster of their own.

The run itself (cluster up, ``kubetui drill test``, down and purged) starts in the background with the
drills package's first test (``conftest.py``: it overlaps the local drills' modules, which run before this
one); this module checks its outcome.
"""

from __future__ import annotations

import pytest

from tests.drills.conftest import DOCKER_ONLY

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_docker_only_drills_pass_their_selftest(docker_drills_selftest):
    assert len(DOCKER_ONLY) >= 3
    r = docker_drills_selftest
    assert f"{len(DOCKER_ONLY)} passed, 0 failed" in r.stdout, r.stdout + r.stderr[-3000:]
