"""The etcd cluster as ``etcdctl member list`` and ``etcdctl endpoint status -w table`` show it.

Upstream: etcd's Cluster API (``MemberList``) and Maintenance API
(``Status``: the member's raft term and index, its leader, its database size,
and the errors it knows of, such as ``etcdserver: no leader``), reached here
through etcd's JSON gateway (``/v3/cluster/member/list``,
``/v3/maintenance/status``) like the rest of ``kubetui.store.etcd``.

Raft in one paragraph, as the control-plane view shows it: the members elect
one *leader* per *term* (a term number only grows: every election starts a
new one); the leader appends each write to its log (the *raft index*) and a
write commits once a majority (the *quorum*, 2 of 3) has it. Kill the leader
and the others notice its heartbeats stop, start an election, and one of them
leads in term+1. Lose the majority and no member can lead: each survivor
reports ``etcdserver: no leader`` and nothing commits.

``summarize`` is pure (table-tested); ``cluster_status`` asks the members.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

#: ``post(endpoint, path, body) -> JSON``; raises on a member that does not answer
Post = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def member_id(raw: Any) -> str:
    """etcd's member ID as etcdctl prints it: hexadecimal (the gateway sends the uint64 in decimal).

    >>> member_id("18432860867044007660")
    'ffcead4c0e5b5eec'
    """
    try:
        return f"{int(raw):x}"
    except (TypeError, ValueError):
        return ""


def summarize(members: list[dict[str, Any]], statuses: list[dict[str, Any] | Exception]) -> dict[str, Any]:
    """The cluster's state from its member list and each member's Status answer (or the error asking it).

    Each member: ``name``, ``id`` (hex), ``endpoint``, ``healthy`` (it answered, knows a leader and
    reports no error), ``isLeader``, ``raftTerm``, ``raftIndex``, ``raftAppliedIndex``, ``dbSize``,
    ``dbSizeInUse`` (bytes), ``version``, ``errors``. The cluster: ``leader`` (a name, "" when none:
    an election is on, or no majority is left to hold one), ``raftTerm`` (the highest any member reports),
    ``quorum`` (members needed to commit a write), ``healthyMembers``, ``reachableMembers`` (that answered)
    and ``hasQuorum`` (a majority answers: it has a leader or is electing one).
    """
    out: list[dict[str, Any]] = []
    ids = {member_id(m.get("ID")): m.get("name") or "" for m in members}
    leader = ""
    term = 0
    for m, st in zip(members, statuses):
        urls = m.get("clientURLs") or []
        row: dict[str, Any] = {"name": m.get("name") or "", "id": member_id(m.get("ID")),
                               "endpoint": urls[0] if urls else "", "healthy": False, "isLeader": False,
                               "raftTerm": 0, "raftIndex": 0, "raftAppliedIndex": 0, "dbSize": 0,
                               "dbSizeInUse": 0, "version": "", "errors": []}
        if isinstance(st, Exception):
            row["errors"] = [str(st) or type(st).__name__]
        else:
            errs = [str(e) for e in st.get("errors") or []]
            lead = member_id(st.get("leader"))
            row.update(raftTerm=int(st.get("raftTerm") or 0), raftIndex=int(st.get("raftIndex") or 0),
                       raftAppliedIndex=int(st.get("raftAppliedIndex") or 0), dbSize=int(st.get("dbSize") or 0),
                       dbSizeInUse=int(st.get("dbSizeInUse") or 0), version=str(st.get("version") or ""),
                       errors=errs)
            row["isLeader"] = bool(lead) and lead == member_id((st.get("header") or {}).get("member_id"))
            row["healthy"] = bool(lead) and not errs
            if row["healthy"] and row["raftTerm"] >= term:
                # the leader as the members that have one see it, in the newest term any of them knows
                leader = ids.get(lead, lead)
            term = max(term, row["raftTerm"])
        out.append(row)
    by_name = {r["name"]: r for r in out}
    if leader and not (leader in by_name and by_name[leader]["healthy"]):
        # followers remember a dead leader until their election timeout: a leader that does not answer leads nothing
        leader = ""
    for row in out:
        row["isLeader"] = bool(leader) and row["name"] == leader
    quorum = len(members) // 2 + 1
    healthy = sum(1 for r in out if r["healthy"])
    reachable = sum(1 for st in statuses if not isinstance(st, Exception))
    return {"members": out, "leader": leader, "raftTerm": term, "quorum": quorum, "healthyMembers": healthy,
            "reachableMembers": reachable, "hasQuorum": reachable >= quorum}


async def cluster_status(post: Post, endpoints: list[str], known: list[dict[str, Any]] | None = None,
                         timeout: float = 2.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ask for the member list (any member answers it: it is served from the member's own copy, no quorum
    needed) then each member's Status, at once. Returns the summary and the member list (the caller keeps it
    as ``known`` for when no member answers the list)."""
    members: list[dict[str, Any]] | None = None
    for ep in endpoints:
        try:
            members = (await asyncio.wait_for(post(ep, "/v3/cluster/member/list", {}), timeout)).get("members")
            break
        except Exception:  # noqa: BLE001 - this member is down: ask the next one
            continue
    if not members:
        members = known or [{"name": ep.split("://")[-1], "clientURLs": [ep]} for ep in endpoints]

    async def status(m: dict[str, Any]) -> dict[str, Any] | Exception:
        urls = m.get("clientURLs") or []
        if not urls:  # a member added but never started (etcdctl member add): no client URL yet
            return RuntimeError("unstarted member: no client URL")
        try:
            return await asyncio.wait_for(post(urls[0], "/v3/maintenance/status", {}), timeout)
        except asyncio.TimeoutError:
            return RuntimeError(f"no answer within {timeout:g}s")
        except Exception as e:  # noqa: BLE001 - a member down is what the view shows
            return e
    statuses = await asyncio.gather(*(status(m) for m in members))
    members = sorted(zip(members, statuses), key=lambda p: p[0].get("name") or "")  # type: ignore[assignment]
    return summarize([m for m, _ in members], [s for _, s in members]), [m for m, _ in members]
