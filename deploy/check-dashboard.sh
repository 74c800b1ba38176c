#!/usr/bin/env bash
# Checks that every query of deploy/grafana/cmpcluster-dashboard.json returns data from a real Prometheus that scrapes
# a running node. Usage: deploy/check-dashboard.sh http://127.0.0.1:9090   (Prometheus with the node as a target)
set -euo pipefail
prometheus=${1:-http://127.0.0.1:9090}
dashboard="$(dirname "$0")/grafana/cmpcluster-dashboard.json"
failed=0
while IFS= read -r expr; do
  count=$(curl -sf --get "$prometheus/api/v1/query" --data-urlencode "query=$expr" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]["result"]))')
  if [ "$count" -gt 0 ]; then echo "ok    $count series  $expr"; else echo "EMPTY          $expr"; failed=1; fi
done < <(python3 -c 'import json,sys; [print(t["expr"]) for p in json.load(open(sys.argv[1]))["panels"] for t in p["targets"]]' "$dashboard")
exit $failed
