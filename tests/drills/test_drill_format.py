"""Drill files: every shipped drill parses, the same seed gives the same incident, lessons ignore drills/."""

from __future__ import annotations

import textwrap

import pytest

from kubetui.drills.format import DrillError, drills_dir, incident, load_all, parse_drill, render
from kubetui.lessons import default_lessons_dir
from kubetui.lessons.watch import LessonLibrary

SHIPPED = load_all()


def test_at_least_ten_drills_ship_and_each_names_what_it_needs():
    assert len(SHIPPED) >= 10
    for d in SHIPPED:
        assert d.variants and d.mitigated and d.reference and d.wrong, d.id
        assert d.question.text and (d.question.choices or d.question.accept), d.id
        assert set(d.requires) <= {"docker"}, d.id
    # the local provider (CI's shared cluster) runs most of them
    assert sum("docker" not in d.requires for d in SHIPPED) >= 8


@pytest.mark.parametrize("drill", SHIPPED, ids=[d.id for d in SHIPPED])
def test_a_drill_seeded_twice_gives_the_same_incident(drill):
    for seed in (1, 2, 3, 42, 9999):
        a, b = incident(drill, seed), incident(drill, seed)
        assert a == b
        values = a.values(drill.namespace)
        variant = next(v for v in drill.variants if v.id == a.variant)
        # everything the fault runs is fully rendered: no placeholder left behind
        fault = render(variant.fault, values)
        assert "{target}" not in str(fault) and not any(f"{{{k}}}" in str(fault) for k in variant.params)


def test_seeds_spread_over_the_choices_and_the_choice_is_the_documented_one():
    d = next(d for d in SHIPPED if d.id == "bad-image-tag")
    tags = {incident(d, seed).params["tag"] for seed in range(1, 40)}
    assert tags == set(d.variants[0].params["tag"])
    import random
    rng = random.Random("bad-image-tag:7")
    variant = rng.choice(d.variants)
    target = rng.choice(sorted(d.targets))
    assert incident(d, 7).target == target and incident(d, 7).variant == variant.id
    assert incident(d, 7).params["tag"] == rng.choice(variant.params["tag"])


def test_lessons_loader_ignores_the_drills_folder():
    assert drills_dir().parent == default_lessons_dir()
    lib = LessonLibrary.load(default_lessons_dir())
    root = default_lessons_dir()
    assert lib.lessons and not any(p.relative_to(root).parts[0] == "drills" for p in [*lib.lessons, *lib.errors])


def test_a_broken_drill_names_its_file_and_line(tmp_path):
    text = textwrap.dedent("""\
        id: x
        title: X
        app: [{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}]
        prober: {targets: [web:80/]}
        variants: [{id: a, fault: [{kubectl: delete svc web}]}]
        mitigated: [{exists: {resource: services, name: web}}]
        question: {text: Why is it down, accept: [selector]}
        reference: [{kubectl: apply -f web.yaml}]
        """)
    with pytest.raises(DrillError) as e:
        parse_drill(text, tmp_path / "drill.yaml")
    assert "fail:" in str(e.value) and str(e.value).startswith(str(tmp_path / "drill.yaml") + ":6:")
    with pytest.raises(DrillError, match="unknown key 'targetz'"):
        parse_drill(text.replace("reference", "targetz: []\nreference"), tmp_path / "drill.yaml")
