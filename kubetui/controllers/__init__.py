"""kube-controller-manager: the control loops that turn desired state into actual state.

Each controller follows client-go's pattern (informer -> work queue ->
reconcile) from ``kubetui.controllers.base``; ``ControllerManager`` in
``kubetui.controllers.manager`` runs them all on shared informers.
"""
