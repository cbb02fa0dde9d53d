"""A pod's first step on the node: mount its volumes, create its sandbox (upstream: ``SyncPod`` in
``kubelet.go`` waits in ``volumeManager.WaitForAttachAndMount``, then ``kuberuntime_manager.go``
``createPodSandbox`` runs the sandbox and the CNI plugin).

Mounting a pod's volumes usually waits on the API server: every pod with a
projected ServiceAccount volume needs a TokenRequest answered (plus its
ConfigMaps and Secrets). Creating the sandbox waits on the node's kernel (a
network namespace, a veth pair, cgroups). In a burst of pod starts the two
queues are long, and doing one after the other adds them up; so on a pod's
first attempt both run at once. The order stays upstream's wherever it can be
seen: when the volumes fail, the sandbox made meanwhile is removed before the
pod's status is written (a pod stuck on ``FailedMount`` shows no IP, as
upstream's), and once a pod's volumes have failed, later attempts mount them
first and make no sandbox until they work (a pod waiting minutes for its
ConfigMap does not create and delete network namespaces every second).
"""

from __future__ import annotations

import asyncio
from typing import Any


async def mount_then_create(volumes: Any, api: Any, runtime: Any, sandbox_config: Any,
                            overlap: bool, mark=lambda step: None) -> tuple[dict[str, str], Any]:
    """(volume paths, sandbox); raises the volumes' error first, then the sandbox's.

    ``volumes`` is the pod's ``PodVolumes`` (its ``setup`` keeps what an
    earlier attempt mounted); ``overlap`` runs the two steps at once. ``mark``
    is told when each is done (``"volumes"``, ``"network"``: the startup tracker).
    """
    async def mount() -> dict[str, str]:
        paths = await volumes.setup(api)
        mark("volumes")
        return paths

    async def create() -> Any:
        sandbox = await runtime.run_pod_sandbox(sandbox_config)
        mark("network")
        return sandbox
    if not overlap:
        paths = await mount()
        return paths, await create()
    paths, sandbox = await asyncio.gather(mount(), create(), return_exceptions=True)
    if isinstance(paths, BaseException):
        if not isinstance(sandbox, BaseException):
            await runtime.remove_pod_sandbox(sandbox.id)
        raise paths
    if isinstance(sandbox, BaseException):
        raise sandbox
    return paths, sandbox
