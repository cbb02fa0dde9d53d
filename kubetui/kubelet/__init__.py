"""The kubelet, kubetui's node agent (upstream: ``pkg/kubelet``).

Standard library only: this package (with ``kubetui.runtime`` and
``kubetui.workloads``) is copied into node images and started as
``python3 -m kubetui.kubelet --api-server URL --token-file F --ca-file F --node-name N``.
``connector.py`` is the exception: it is the API server's side of the
kubelet's own API and is imported by the control plane only.
"""
