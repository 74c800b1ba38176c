#!/usr/bin/env bash
# Rate limits under load: a normal client (127.0.0.3, open model at NORMAL_RATE tx/s) alone, then beside an offender
# (127.0.0.2, OFFENDER_RATE tx/s, far over its per-address limit), on a node whose per-address limit is LIMIT_RATE/s
# (burst LIMIT_BURST); then the same pair on a node with RateLimits:Enabled=false. Prints a Markdown table of the normal
# client's latency and the offender's 429s; with --write it appends it, with the commands, to docs/BENCHMARKS.md.
# Every node runs on free loopback ports with a fresh data directory and is stopped (by PID) on exit.
#
# Settings (environment): NORMAL_RATE=20 OFFENDER_RATE=200 LIMIT_RATE=20 LIMIT_BURST=40 DURATION=20 WARMUP=3
# (limits far below the shipped defaults, so that a 2-core machine can offer well over them)
#   SKIP_BUILD=1 (reuse the Release build)
set -euo pipefail

NORMAL_RATE=${NORMAL_RATE:-20}
OFFENDER_RATE=${OFFENDER_RATE:-200}
LIMIT_RATE=${LIMIT_RATE:-20}
LIMIT_BURST=${LIMIT_BURST:-40}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
WRITE=0
[[ "${1:-}" == "--write" ]] && WRITE=1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/cmpcluster-ratelimit.XXXXXX)
NODE_PID=""

stop_node() {
  if [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill "$NODE_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$NODE_PID" 2>/dev/null || true
  fi
  NODE_PID=""
}
trap 'stop_node; rm -rf "$WORK"' EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
log() { echo "ratelimit-bench: $*" >&2; }

cd "$ROOT"
LOAD_AVERAGE=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building Release"
  dotnet build silo -c Release -v q -nologo >&2
  dotnet build loadtests -c Release -v q -nologo >&2
fi

start_node() { # name, extra node arguments...
  local name=$1; shift
  HTTP_PORT=$(free_port)
  BASE="http://127.0.0.1:$HTTP_PORT"
  dotnet silo/bin/Release/net10.0/CmpCluster.Silo.dll --urls "$BASE" --Management:Urls="http://127.0.0.1:$(free_port)" \
    --Node:DataDirectory="$WORK/$name/data" --Node:SiloPort="$(free_port)" --Node:GatewayPort="$(free_port)" --Tcp:Enabled=false \
    --Logging:LogLevel:Default=Warning "$@" >"$WORK/$name.log" 2>&1 &
  NODE_PID=$!
  for _ in $(seq 120); do
    curl -sf "$BASE/health" >/dev/null 2>&1 && break
    kill -0 "$NODE_PID" 2>/dev/null || { cat "$WORK/$name.log" >&2; exit 1; }
    sleep 0.5
  done
  log "node $name pid $NODE_PID on $BASE"
  # Warm the JIT (not measured): the first seconds after a start cost several times more CPU per transaction.
  # At half the per-address limit, so the warm-up itself is never refused.
  "${LOADGEN[@]}" --base-url "$BASE" --source-address 127.0.0.4 --rate $((LIMIT_RATE / 2)) --duration 5 --warmup 0 >/dev/null || true
}

LOADGEN=(dotnet loadtests/bin/Release/net10.0/CmpCluster.LoadTests.dll --no-progress --scenario enroll-implicit --max-in-flight 64)
NORMAL=(--source-address 127.0.0.3 --rate "$NORMAL_RATE" --warmup "$WARMUP" --duration "$DURATION")
OFFENDER=(--source-address 127.0.0.2 --rate "$OFFENDER_RATE" --warmup "$WARMUP" --duration "$DURATION")

run_pair() { # name, with-offender (0/1)
  local name=$1 offender=$2 pid=""
  if [[ $offender == 1 ]]; then
    "${LOADGEN[@]}" --base-url "$BASE" "${OFFENDER[@]}" --json "$WORK/$name-offender.json" >/dev/null 2>&1 &
    pid=$!
  fi
  "${LOADGEN[@]}" --base-url "$BASE" "${NORMAL[@]}" --json "$WORK/$name-normal.json" >/dev/null 2>&1 || true
  if [[ -n $pid ]]; then wait "$pid" || true; fi
}
summaries() { # node log -> the number of rate-limit summary lines (the node flushes the last window when it stops)
  grep -c "rate-limited in the last" "$WORK/$1.log" || true
}

LIMITS=(--RateLimits:PerAddress:TokensPerPeriod="$LIMIT_RATE" --RateLimits:PerAddress:TokenLimit="$LIMIT_BURST")
start_node limited "${LIMITS[@]}"
log "normal client alone"; run_pair alone 0
log "normal client beside the offender"; run_pair with-offender 1
stop_node
summaries limited >"$WORK/with-offender-summaries"
start_node unlimited --RateLimits:Enabled=false
log "normal client beside the offender, limits off"; run_pair unlimited 1
stop_node
summaries unlimited >"$WORK/unlimited-summaries"

TABLE=$(python3 - "$WORK" <<'EOF'
import json, os, sys
work = sys.argv[1]
rows = [("alone", "normal client alone, limits on"), ("with-offender", "beside the offender, limits on"), ("unlimited", "beside the offender, limits off")]
print("| run | normal tx/s | normal p50 / p90 / p99 ms | normal errors, dropped | offender tx/s served | offender 429 | offender errors, dropped | summary log lines |")
print("|---|---|---|---|---|---|---|---|")
for key, label in rows:
    n = json.load(open(f"{work}/{key}-normal.json"))
    t = n["latency"].get("transaction", {"p50Ms": 0, "p90Ms": 0, "p99Ms": 0})
    path = f"{work}/{key}-offender.json"
    o = json.load(open(path)) if os.path.exists(path) else None
    off = f"{o['transactionsPerSecond']:.0f} | {o.get('rateLimited', 0)} | {o['errors']}, {o['dropped']}" if o else "— | — | —"
    lines = open(f"{work}/{key}-summaries").read().strip() if key != "alone" else "—"
    print(f"| {label} | {n['transactionsPerSecond']:.0f} | {t['p50Ms']:.1f} / {t['p90Ms']:.1f} / {t['p99Ms']:.1f} | {n['errors']}, {n['dropped']} | {off} | {lines} |")
EOF
)
echo
echo "$TABLE"

if [[ $WRITE == 1 ]]; then
  {
    echo
    echo "## ratelimit-bench.sh, $(date -u +%Y-%m-%d) ($(git rev-parse --short HEAD))"
    echo
    echo "\`NORMAL_RATE=$NORMAL_RATE OFFENDER_RATE=$OFFENDER_RATE LIMIT_RATE=$LIMIT_RATE LIMIT_BURST=$LIMIT_BURST DURATION=$DURATION WARMUP=$WARMUP loadtests/ratelimit-bench.sh --write\`"
    echo "on the $(nproc)-core development machine (load average $LOAD_AVERAGE at the start: other work was running): single node (Release, log level Warning), started with"
    echo "\`${LIMITS[*]}\` (then \`--RateLimits:Enabled=false\`), JIT warmed by a 5 s run from 127.0.0.4 at half the limit. Generator commands:"
    echo
    echo "    normal:   ${LOADGEN[*]} --base-url \$BASE ${NORMAL[*]}"
    echo "    offender: ${LOADGEN[*]} --base-url \$BASE ${OFFENDER[*]}"
    echo
    echo "$TABLE"
  } >>docs/BENCHMARKS.md
  log "appended to docs/BENCHMARKS.md"
fi
