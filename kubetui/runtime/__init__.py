"""Container runtimes behind a CRI-like interface (upstream: containerd/CRI-O behind ``k8s.io/cri-api``).

Standard library only: copied into node images together with ``kubetui.kubelet``.
"""
