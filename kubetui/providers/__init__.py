"""Node providers: where a cluster's worker nodes run (kind's ``providers``).

``docker`` runs each node as a container (the only module that imports
``docker``), ``local`` runs each node's kubelet as a local process, and
``simulated`` registers nodes whose pods are marked Running by a light
in-process agent (as KWOK does).
"""
