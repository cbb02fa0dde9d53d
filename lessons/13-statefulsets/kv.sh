#!/bin/bash
# kv.sh FROM-POD HOST get|put KEY [VALUE]: ask the kubetui/kv server at HOST:8080, from inside pod FROM-POD.
#
# HOST is a DNS name such as web-1.web (web-1 under the headless Service web):
# the request is resolved and sent by the cluster's own DNS and network,
# exactly as one StatefulSet member talks to another. Nothing leaves the cluster.
set -euo pipefail
from=$1 host=$2 op=$3 key=$4 value=${5:-}
case $op in
  get) method=GET ;; put) method=PUT ;;
  *) echo "kv.sh: unknown operation $op (get, put)" >&2; exit 2 ;;
esac
exec kubectl exec "$from" -- python3 -c '
import sys, time, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
value = sys.argv[3] if len(sys.argv) > 3 else ""
req = urllib.request.Request(url, data=value.encode() if method == "PUT" else None, method=method)
for attempt in range(40):        # a pod that has just started may not answer yet: up to ~10 s
    try:
        print(urllib.request.urlopen(req, timeout=5).read().decode(), end="")
        break
    except urllib.error.HTTPError as e:
        print(e.read().decode(), end=""); sys.exit(1)
    except (urllib.error.URLError, OSError) as e:
        if attempt == 39:
            print(f"kv.sh: {url}: {e}", file=sys.stderr); sys.exit(1)
        time.sleep(0.25)
' "$method" "http://$host:8080/$key" ${value:+"$value"}
