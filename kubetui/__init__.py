"""kubetui: a Kubernetes cluster in a box, for learning, in the terminal.

The package is laid out the way Kubernetes itself is, so a learner finds each
component where the Kubernetes docs say it lives:

- ``api``          API types, validation, defaulting, patching (k8s.io/api, apimachinery)
- ``store``        the etcd-like key-value store (etcd)
- ``apiserver``    the API server over HTTPS (kube-apiserver)
- ``client``       clients, informers and work queues (client-go)
- ``scheduler``    kube-scheduler and its plugins
- ``controllers``  kube-controller-manager's controllers
- ``kubelet``, ``runtime``, ``proxy``  the node agents (stdlib only)
- ``providers``    where nodes run: Docker containers, local processes, simulated (kind)
- ``tui``          the Textual app
"""

__version__ = "0.1.0"

# The Kubernetes version whose API shapes kubetui follows (shown by /version).
KUBERNETES_VERSION = "v1.37.0"
