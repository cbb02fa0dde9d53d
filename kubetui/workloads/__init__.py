"""The programs behind kubetui's built-in images (``kubetui.runtime.images``).

Kubernetes tutorials pull ``nginx`` or ``hashicorp/http-echo`` from a
registry; kubetui is offline, so each image is one of these small
standard-library programs, each with one clear purpose for a lesson. They
run inside pods as ``python3 -m kubetui.workloads.<name>`` and learn who they
are from the environment the runtime gives every container:
``KUBETUI_POD_NAME``, ``KUBETUI_POD_NAMESPACE``, ``KUBETUI_NODE_NAME``,
``KUBETUI_POD_IP`` (the address to bind) and ``KUBETUI_MOUNTS``.
"""
