"""kube-scheduler: puts Pods on Nodes.

Upstream: ``pkg/scheduler``. A scheduling queue feeds pods one at a time to a
framework of plugins (PreFilter, Filter, PreScore, Score, NormalizeScore) that
rejects nodes that cannot run the pod and ranks the rest; the pod is bound to
the best node through the ``pods/binding`` subresource. kubetui also records
*why*: every attempt's filter verdicts and scores can be read back
(``kubetui explain pod NAME``).
"""
