"""The TTL-after-finished controller: delete a finished Job ``ttlSecondsAfterFinished`` after it finished.

Upstream: ``pkg/controller/ttlafterfinished/ttlafterfinished_controller.go``.
A Job is finished when its ``Complete`` or ``Failed`` condition is True; it
expires that condition's lastTransitionTime plus the TTL later. Expired Jobs
are deleted with ``Foreground`` propagation (their pods go first) and a uid
precondition, so a newer Job of the same name is never hit.
"""

from __future__ import annotations

from typing import Any

from kubetui.api import errors
from kubetui.client.informer import split_key
from kubetui.clock import parse_rfc3339
from kubetui.controllers import job_util as ju
from kubetui.controllers.base import Controller
from kubetui.controllers.util import is_deleting, meta

Obj = dict[str, Any]


def expires_at(job: Obj) -> float | None:
    """When a finished Job with a TTL may be deleted (``getFinishAndExpireTime``); None if never."""
    ttl = ju.spec(job).get("ttlSecondsAfterFinished")
    if ttl is None or not ju.is_finished(job):
        return None
    for c in ju.status(job).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True" and c.get("lastTransitionTime"):
            return parse_rfc3339(c["lastTransitionTime"]) + int(ttl)
    return None


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    kind = "Job"
    component = "ttl-after-finished-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.job_informer = self.factory.informer("jobs")
        self.job_informer.add_handler(self._changed, lambda old, new: self._changed(new), lambda o: None)

    def _changed(self, job: Obj) -> None:
        if not is_deleting(job) and expires_at(job) is not None:
            self.enqueue(job)

    async def reconcile(self, key: Any) -> float | None:
        job = self.job_informer.get(key)
        if job is None or is_deleting(job):
            return None
        at = expires_at(job)
        if at is None:
            return None
        left = at - self.clock.time()
        if left > 0:
            return left
        ns, name = split_key(key)
        try:
            await self.client.delete("jobs", name, ns, propagation_policy="Foreground",
                                     uid=meta(job).get("uid"))
        except (errors.NotFound, errors.Conflict):
            pass
        return None
