"""The class channel's notes (pure): what a teacher may send, and which learner sees which note."""

import pytest

from kubetui.classroom.channel import Channel, validate


@pytest.mark.parametrize("note,error", [
    ({"kind": "message", "text": "hi"}, ""),
    ({"kind": "message", "text": "  "}, "a message needs text"),
    ({"kind": "shout", "text": "x"}, "unknown kind 'shout'"),
    ({"kind": "reset", "lesson": "pods", "step": 2}, ""),
    ({"kind": "reset", "lesson": "pods", "step": "create"}, ""),
    ({"kind": "reset", "lesson": "pods", "step": 0}, "step must be a step number"),
    ({"kind": "reset", "lesson": "../etc", "step": 1}, "a reset needs the lesson's id"),
    ({"kind": "reset", "step": 1}, "a reset needs the lesson's id"),
    ({"kind": "drill", "drill": "bad-image-tag", "seed": 7}, ""),
    ({"kind": "drill", "drill": "bad-image-tag", "seed": "7"}, "seed must be a whole number"),
    ({"kind": "drill", "seed": 7}, "a drill needs the drill's id"),
])
def test_validate(note, error):
    got = validate(note)
    assert got.startswith(error) if error else got == ""


def test_notes_reach_only_their_learner_from_joining_on_and_survive_a_restart(tmp_path):
    ch = Channel(tmp_path)
    ch.post(10.0, "", "message", "before bob joined")
    ch.post(20.0, "ann", "reset", "reset ann", lesson="pods", step=2)
    ch.post(21.0, "", "drill", "drill", drill="dns-broken", seed=5)
    ch.post(22.0, "", "pause", "paused")
    assert [n["text"] for n in ch.for_learner("ann", 0)] == ["before bob joined", "reset ann", "drill", "paused"]
    bob = ch.for_learner("bob", 0, joined=15.0)
    assert [n["kind"] for n in bob] == ["drill", "pause"]            # not ann's reset, nothing before he joined
    assert "to" not in bob[0] and bob[0]["seed"] == 5
    assert ch.for_learner("bob", 3, joined=15.0)[0]["n"] == 3
    assert ch.has_news("ann", 1) and not ch.has_news("bob", 1, joined=30.0)
    again = Channel(tmp_path)                                        # the server restarted
    assert again.next == 4 and again.paused
    again.post(30.0, "", "resume", "go on")
    assert not Channel(tmp_path).paused
