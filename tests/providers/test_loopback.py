"""Each local cluster owns its own loopback block: the pure choice, the claims, and what a block holds."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kubetui.agent.loopback import POOL, LoopbackBlock, service_address
from kubetui.providers import loopback
from kubetui.providers.loopback import NoFreeBlock, choose_block


@pytest.mark.parametrize("recorded,claims,live,expected", [
    (None, {}, set(), 2),                               # first cluster on the machine
    (None, {2: "/b"}, {2}, 4),                          # /b runs on 2: the next one
    (6, {2: "/b", 6: "/me"}, {2, 6}, 6),                # a restart while its nodes run keeps its block
    (6, {2: "/b", 6: "/me"}, {2}, 6),                   # a restart after everything stopped keeps it too
    (6, {6: "/b"}, set(), 6),                           # /b's stale claim: taken back
    (6, {6: "/b"}, {6}, 2),                             # /b took it while we were down and runs: move
    (None, {8: "/me"}, {8}, 8),                         # state file lost, nodes still running: ours
    (None, {2: "/b", 4: "/c"}, set(), 6),               # never-claimed blocks before stale ones
])
def test_choose_block(recorded, claims, live, expected):
    assert choose_block("/me", recorded, claims, live) == expected


def test_choose_block_reuses_a_stale_claim_when_every_block_was_claimed():
    # /c's cluster is not running (nobody holds its lock): its block is free again
    assert choose_block("/me", None, {2: "/b", 4: "/c", 6: "/d"}, {2, 6}, pool=(2, 4, 6)) == 4


def test_choose_block_says_when_every_block_is_taken():
    with pytest.raises(NoFreeBlock, match="held by a running local cluster"):
        choose_block("/me", None, {2: "/a", 4: "/b"}, {2, 4}, pool=(2, 4))


def test_block_layout():
    b = LoopbackBlock(6)
    assert (b.pod_range, b.service_range) == ("127.6.0.0/16", "127.7.0.0/16")
    assert (b.node_ip(1), b.pod_cidr(1), b.load_balancer_ip) == ("127.6.0.1", "127.6.1.0/24", "127.6.0.254")
    assert b.service_address("10.96.3.7") == "127.7.3.7"
    assert LoopbackBlock.of_address("127.6.0.2") == b and LoopbackBlock.of_address("127.0.0.1") is None
    assert service_address("10.100.1.2") == "127.100.1.2"       # no block: 10.96.0.0/12 onto 127.96.0.0/12
    with pytest.raises(ValueError):
        LoopbackBlock(7)                                       # odd octets are Service halves
    with pytest.raises(ValueError):
        b.node_ip(254)                                         # the load balancer's


def test_claims_are_distinct_kept_and_freed_when_their_cluster_is_gone(tmp_path):
    root = tmp_path / "registry"
    a = loopback.claim(tmp_path / "a", root)
    b = loopback.claim(tmp_path / "b", root)
    assert a.block != b.block                                  # two live clusters: two blocks
    assert loopback.recorded(tmp_path / "a") == a.block        # kept in the state dir

    again = loopback.claim(tmp_path / "a", root)               # a restart while it still runs
    assert again.block == a.block
    again.close()

    # a process of the cluster (a kubelet) inherits the lock: the block stays live while it runs,
    # even after the process that claimed it let go
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             pass_fds=(a.fd,))
    try:
        a.close()
        c = loopback.claim(tmp_path / "c", root)
        assert c.block not in (a.block, b.block)
    finally:
        child.communicate(b"")                                 # the last holder exits (however it dies)
    claims, live = loopback.read_claims(root)
    assert a.block.pods not in live and claims[a.block.pods] == str((tmp_path / "a").resolve())

    # a's claim is stale now: another cluster gets it once no never-claimed block is left
    assert choose_block("/d", None, claims, live, pool=(b.block.pods, a.block.pods)) == a.block.pods
    # and a itself takes it back on its next start
    back = loopback.claim(tmp_path / "a", root)
    assert back.block == a.block
    for claim in (b, c, back):
        claim.close()
