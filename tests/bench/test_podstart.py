"""``kubetui bench pods``' breakdown of where each pod's start went (kubetui/bench/podstart.py)."""

from kubetui.bench.podstart import breakdown


def test_gaps_are_taken_from_the_previous_step_each_pod_has():
    rows = breakdown({
        "a": {"apiCreated": 10.0, "scheduled": 10.1, "seen": 10.2, "sandbox": 10.5, "started": 10.6,
              "ready": 10.7, "watched": 10.71},
        # no kubelet line for b (its node's log was lost): its bench-side steps still count
        "b": {"apiCreated": 10.0, "scheduled": 10.3, "watched": 11.0},
    })
    by = {r["step"]: r for r in rows}
    assert list(by) == ["scheduled", "seen", "sandbox", "started", "ready", "watched"]
    assert by["sandbox"]["gapP50"] == 0.3 and by["sandbox"]["pods"] == 1
    assert by["started"]["gapP50"] == 0.1                # from sandbox: a has no image/created marks
    assert by["watched"]["pods"] == 2 and by["watched"]["sinceCreatedP99"] == 1.0
    assert sorted([by["watched"]["gapP50"], by["watched"]["gapP99"]]) == [0.01, 0.7]


def test_steps_side_by_side_are_measured_from_where_they_began():
    """A pod's volumes and its network are made at once: each from when the kubelet saw the pod,
    and the sandbox from the later of the two."""
    rows = breakdown({"a": {"apiCreated": 0.0, "seen": 1.0, "volumes": 1.5, "network": 1.2, "sandbox": 1.5,
                            "started": 1.75}})
    gaps = {r["step"]: r["gapP50"] for r in rows}
    assert gaps == {"seen": 1.0, "volumes": 0.5, "network": 0.2, "sandbox": 0.0, "started": 0.25}


def test_bench_pods_settings_have_one_control_plane():
    """`kubetui bench pods` has no --control-planes of its own (the top-level parser's dest is None)."""
    from kubetui import cli
    from kubetui.bench.nodes import _settings
    args = cli.build_parser().parse_args(["bench", "pods"])
    s = _settings(args, "podspeedtest")
    assert (s.control_planes, s.store) == (1, "tinydb")
