"""``/livez``, ``/readyz`` and ``/healthz``: kube-apiserver's health checks (``k8s.io/apiserver/pkg/server/healthz``).

A load balancer or a kubelet asks ``/readyz`` ("may I send you requests?") and
``/livez`` ("should you be restarted?"). Each is a list of named checks; the
answer is ``ok`` when all pass, and with ``?verbose`` (or on failure) one line
per check, as upstream prints it::

    [+]ping ok
    [+]etcd ok
    [-]shutdown failed: reason withheld
    readyz check failed

``/readyz/etcd`` runs one check; ``?exclude=etcd`` leaves one out. The
decision is pure (``evaluate``); the checks are small callables the server
passes in (the store's health for ``etcd``: the TinyDB store plays etcd).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple, Sequence

#: a check returns None when healthy, else why not
CheckFn = Callable[[], "str | None"]


@dataclass(frozen=True)
class Check:
    name: str
    run: CheckFn


class Answer(NamedTuple):
    status: int
    text: str


def evaluate(endpoint: str, checks: Sequence[Check], rest: Sequence[str], query: Mapping[str, object]) -> Answer:
    """The answer of ``/<endpoint>[/<check>]`` (``rest`` is what follows the endpoint in the path)."""
    by_name = {c.name: c for c in checks}
    if rest:
        name = "/".join(rest)
        check = by_name.get(name)
        if check is None:
            return Answer(404, "404 page not found\n")
        why = check.run()
        return Answer(200, "ok") if why is None else Answer(500, f"internal server error: {why}\n")
    getall = getattr(query, "getall", None)
    excluded = set(getall("exclude", [])) if getall else ({str(query["exclude"])} if "exclude" in query else set())
    verbose = "verbose" in query
    lines, failed = [], False
    for c in checks:
        if c.name in excluded:
            lines.append(f"[+]{c.name} excluded: ok")
            continue
        why = c.run()
        if why is None:
            lines.append(f"[+]{c.name} ok")
        else:
            failed = True
            lines.append(f"[-]{c.name} failed: reason withheld")
    for name in sorted(excluded - set(by_name)):
        lines.append(f"warn: some health checks cannot be excluded: no matches for \"{name}\"")
    if failed:
        return Answer(500, "\n".join(lines) + f"\n{endpoint} check failed\n")
    if verbose:
        return Answer(200, "\n".join(lines) + f"\n{endpoint} check passed\n")
    return Answer(200, "ok")
