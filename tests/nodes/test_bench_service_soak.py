"""``kubetui bench service --soak``: merging the client pods' figures, the bounded CPU burner, the flags."""

from __future__ import annotations

import time

from kubetui.bench.service_soak import cpu_burner, merge


def run(pods, errors=None, ok=(5.0, 7.0), dns=(1.0,), samples=()):
    return {"requests": sum(pods.values()) + sum((errors or {}).values()), "seconds": 1.0, "pods": pods,
            "errors": errors or {}, "errorSamples": list(samples), "okMs": list(ok), "dnsMs": list(dns)}


def test_merge_adds_up_the_clients_and_classifies_failures():
    r = merge([run({"web-a": 3, "web-b": 2}, ok=(4.0, 1200.0)),
               run({"web-a": 1}, {"connect timeout": 2}, ok=(6.0,), dns=(2.0, 1500.0),
                   samples=[[3.2, "connect timeout", 2001]])],
              clients=2, concurrency=4, burn=2, wall=2.0, timeout=2.0, url="http://web:8080/")
    assert (r["requests"], r["failures"]) == (8, 2)
    assert r["pods"] == {"web-a": 4, "web-b": 2} and r["errors"] == {"connect timeout": 2}
    assert r["errorSamples"] == [[3.2, "connect timeout", 2001]]
    assert r["latencyMs"]["over1s"] == 1 and r["latencyMs"]["max"] == 1200.0
    assert r["dnsMs"]["lookups"] == 3 and r["dnsMs"]["over1s"] == 1
    assert r["requestsPerSecond"] == 4.0


def test_the_cpu_burner_stops_by_itself():
    with cpu_burner(1, 0.2) as procs:
        deadline = time.monotonic() + 30
        while procs[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs[0].returncode == 0


def test_the_soak_flags(capsys):
    import argparse

    from kubetui.bench import service
    parser = argparse.ArgumentParser()
    service.register(parser.add_subparsers())
    a = parser.parse_args(["service", "--soak", "20000", "--clients", "4"])
    assert (a.soak, a.clients, a.url, a.request_timeout) == (20000, 4, "http://web:8080/", 2.0)
    assert a.burn >= 1
