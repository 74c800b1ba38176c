#!/usr/bin/env bash
# A/B of two node builds on this machine, warm: for each silo DLL given, start a fresh node (Release, own ports and data),
# run enroll-implicit once to warm it (discarded), then enroll and enroll-implicit (16 devices, 5 s warm-up, 15 s measured).
# usage: loadtests/ab-warm.sh path/to/CmpCluster.Silo.dll [another/CmpCluster.Silo.dll ...]
set -u
cd "$(dirname "$0")/.."
generator=loadtests/bin/Release/net10.0/CmpCluster.LoadTests.dll
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
for dll in "$@"; do
  data=$(mktemp -d); http=$(free_port); silo=$(free_port); gw=$(free_port); tcp=$(free_port); mgmt=$(free_port)
  dotnet "$dll" --urls "http://127.0.0.1:$http" --Management:Urls="http://127.0.0.1:$mgmt" --Node:DataDirectory="$data/data" --Node:SiloPort="$silo" --Node:GatewayPort="$gw" \
    --Tcp:Port="$tcp" --Logging:LogLevel:Default=Warning > "$data/node.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$http/health" >/dev/null && break; sleep 1; done
  for scenario in enroll-implicit enroll enroll-implicit; do
    printf '%s %s: ' "$dll" "$scenario"
    dotnet "$generator" --base-url "http://127.0.0.1:$http" --scenario "$scenario" --concurrency 16 --duration 15 --warmup 5 \
      --server-pid "$pid" --no-progress 2>&1 | sed -n 5p
  done
  kill "$pid"; wait "$pid" 2>/dev/null; rm -rf "$data"
done
