#!/bin/bash
# nodes.sh COMMAND [ARG...]: run COMMAND in every node container, each output line prefixed by the node.
#
# By hand:  docker exec kubetui-<cluster>-node-1 COMMAND ...   (and node-2, node-3)
# kubetui names the kubeconfig context kubetui-<cluster> and each node container
# kubetui-<cluster>-<node>. The lesson's checks use this script.
set -euo pipefail
ctx=$(kubectl config current-context)
for node in $(kubectl get nodes -o jsonpath='{.items[*].metadata.name}'); do
  docker exec "$ctx-$node" "$@" | sed "s/^/$node /"
done
