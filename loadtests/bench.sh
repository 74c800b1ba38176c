#!/usr/bin/env bash
# Standard benchmark of the single-node default, with two anchors measured in the same run:
#   (a) the crypto floor: `openssl speed ecdsap256`, one complete transaction = 3 signatures + 3 verifications;
#   (b) the `openssl cmp` mock server (single-threaded, fixed certificate), driven by sequential `openssl cmp` clients.
# Prints a Markdown table; with --write it also appends a dated section to docs/BENCHMARKS.md.
# Starts a node and a mock server on free loopback ports, and stops exactly those (by PID) on exit.
#
# Settings (environment): DEVICES=16 WARMUP=5 DURATION=20 RATE=150 (open-model row) REVOKE_POOL=8000
#   MOCK_TX=300 (transactions against the mock) SPEED_SECONDS=3 SCENARIOS="enroll enroll-implicit renew revoke"
#   SKIP_BUILD=1 (reuse the Release build)
set -euo pipefail

DEVICES=${DEVICES:-16}
WARMUP=${WARMUP:-5}
DURATION=${DURATION:-20}
RATE=${RATE:-150}
REVOKE_POOL=${REVOKE_POOL:-8000}
MOCK_TX=${MOCK_TX:-300}
SPEED_SECONDS=${SPEED_SECONDS:-3}
SCENARIOS=${SCENARIOS:-"enroll enroll-implicit renew revoke"}
WRITE=0
[[ "${1:-}" == "--write" ]] && WRITE=1

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/cmpcluster-bench.XXXXXX)
NODE_PID=""
MOCK_PID=""

cleanup() {
  for pid in $NODE_PID $MOCK_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
log() { echo "bench: $*" >&2; }

cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building Release"
  dotnet build silo -c Release -v q -nologo >&2
  dotnet build loadtests -c Release -v q -nologo >&2
fi

# --- the node ------------------------------------------------------------------------------------------------
HTTP_PORT=$(free_port); SILO_PORT=$(free_port); GATEWAY_PORT=$(free_port)
BASE="http://127.0.0.1:$HTTP_PORT"
# Its own management port too: the default (127.0.0.1:8081) may be taken by another node on this machine.
dotnet silo/bin/Release/net10.0/CmpCluster.Silo.dll --urls "$BASE" --Management:Urls="http://127.0.0.1:$(free_port)" --Node:DataDirectory="$WORK/data" \
  --Node:SiloPort="$SILO_PORT" --Node:GatewayPort="$GATEWAY_PORT" --Tcp:Port="$(free_port)" --Logging:LogLevel:Default=Warning >"$WORK/node.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 120); do
  curl -sf "$BASE/health" >/dev/null 2>&1 && break
  kill -0 "$NODE_PID" 2>/dev/null || { cat "$WORK/node.log" >&2; exit 1; }
  sleep 0.5
done
curl -sf "$BASE/health" >/dev/null || { log "node not healthy"; exit 1; }
log "node pid $NODE_PID on $BASE"

LOADGEN=(dotnet loadtests/bin/Release/net10.0/CmpCluster.LoadTests.dll --base-url "$BASE" --server-pid "$NODE_PID" --warmup "$WARMUP" --no-progress)
COMMANDS=()
run_load() { # name, args...
  local name=$1; shift
  log "run $name: $*"
  COMMANDS+=("loadtests ${*}")
  "${LOADGEN[@]}" "$@" --json "$WORK/$name.json" >"$WORK/$name.md" || log "$name reported errors (see table)"
}

# Warm the node's JIT first: the first seconds after a start cost several times more CPU per transaction.
"${LOADGEN[@]}" --scenario enroll --concurrency "$DEVICES" --duration 5 --warmup 0 >/dev/null || true

for scenario in $SCENARIOS; do
  extra=()
  [[ "$scenario" == revoke ]] && extra=(--pool "$REVOKE_POOL")
  run_load "$scenario" --scenario "$scenario" --concurrency "$DEVICES" --duration "$DURATION" "${extra[@]}"
done
run_load "open-enroll" --scenario enroll --rate "$RATE" --ramp "$WARMUP" --max-in-flight 64 --duration "$DURATION"

# --- anchor (a): crypto floor ---------------------------------------------------------------------------------
log "openssl speed -seconds $SPEED_SECONDS ecdsap256"
read -r SIGN_S VERIFY_S < <(openssl speed -seconds "$SPEED_SECONDS" ecdsap256 2>/dev/null | awk '/bits ecdsa \(nistp256\)/ {print $(NF-1), $NF}')
FLOOR_MS=$(python3 -c "print(f'{1000*(3/$SIGN_S+3/$VERIFY_S):.3f}')")

# --- anchor (b): openssl cmp mock server ----------------------------------------------------------------------
MOCK_PORT=$(free_port)
openssl ecparam -genkey -name prime256v1 -noout -out "$WORK/mock.key" 2>/dev/null
openssl req -new -x509 -key "$WORK/mock.key" -subj /CN=mock-ca -days 2 -out "$WORK/mock.crt" 2>/dev/null
openssl cmp -port "$MOCK_PORT" -srv_ref ra -srv_secret pass:changeit -rsp_cert "$WORK/mock.crt" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$MOCK_PORT") 2>/dev/null && break; sleep 0.1; done
log "mock server pid $MOCK_PID: $MOCK_TX sequential openssl cmp ir + certConf"
MOCK_FAIL=0
MOCK_START=$(cpu_ticks "$MOCK_PID"); T0=$(date +%s.%N)
for _ in $(seq "$MOCK_TX"); do
  openssl cmp -cmd ir -server "127.0.0.1:$MOCK_PORT" -ref ra -secret pass:changeit -newkey "$WORK/mock.key" \
    -subject /CN=device -certout "$WORK/mock-out.pem" >/dev/null 2>&1 || MOCK_FAIL=$((MOCK_FAIL + 1))
done
MOCK_END=$(cpu_ticks "$MOCK_PID"); T1=$(date +%s.%N)
MOCK_MS=$(python3 -c "print(f'{($MOCK_END-$MOCK_START)*10/$MOCK_TX:.3f}')")
MOCK_RATE=$(python3 -c "print(f'{$MOCK_TX/($T1-$T0):.0f}')")

# --- table ------------------------------------------------------------------------------------------------------
TABLE=$(python3 - "$WORK" "$FLOOR_MS" "$MOCK_MS" $SCENARIOS open-enroll <<'EOF'
import json, sys
work, floor, mock, names = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
print("| scenario | model | tx/s | server CPU ms/tx | × floor | × mock | client CPU ms/tx | transaction p50 / p99 ms | errors | dropped |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name in names:
    r = json.load(open(f"{work}/{name}.json"))
    model = f"open {r['rate']:g}/s" if r["model"] == "open" else f"closed {r['concurrency']}"
    cpu = r.get("serverCpuMsPerTransaction")
    t = r["latency"].get("transaction", {"p50Ms": 0, "p99Ms": 0})
    ratio = lambda anchor: f"{cpu / anchor:.1f}" if cpu and anchor else "n/a"
    note = " (stopped early)" if r.get("stoppedEarly") else ""
    print(f"| {r['scenario']}{note} | {model} | {r['transactionsPerSecond']:.0f} | {cpu or 0:.3f} | {ratio(floor)} | {ratio(mock)} | "
          f"{r.get('clientCpuMsPerTransaction') or 0:.3f} | {t['p50Ms']:.1f} / {t['p99Ms']:.1f} | {r['errors']} | {r['dropped']} |")
EOF
)
ANCHORS="Anchors: crypto floor $FLOOR_MS ms CPU per transaction (openssl speed: P-256 sign $SIGN_S/s, verify $VERIFY_S/s, 3 + 3 per transaction); openssl cmp mock server $MOCK_MS ms CPU per ir + certConf ($MOCK_TX sequential openssl cmp clients, $MOCK_RATE tx/s incl. client start-up, $MOCK_FAIL failed)."

echo
echo "$TABLE"
echo
echo "$ANCHORS"
for name in $SCENARIOS open-enroll; do echo; echo "### $name"; cat "$WORK/$name.md"; done

if [[ $WRITE == 1 ]]; then
  {
    echo
    echo "## bench.sh, $(date -u +%Y-%m-%d) ($(git rev-parse --short HEAD))"
    echo
    echo "\`DEVICES=$DEVICES WARMUP=$WARMUP DURATION=$DURATION RATE=$RATE REVOKE_POOL=$REVOKE_POOL MOCK_TX=$MOCK_TX loadtests/bench.sh --write\`:"
    echo "single-node default (SQLite, P-256 CA, Release, log level Warning) on a fresh data directory, after a 5 s JIT warm-up run;"
    echo "the generator runs on the same $(nproc) cores as the node. Generator commands (plus \`--base-url --server-pid --warmup $WARMUP\`):"
    echo
    for c in "${COMMANDS[@]}"; do echo "    $c"; done
    echo
    echo "$TABLE"
    echo
    echo "$ANCHORS"
  } >>docs/BENCHMARKS.md
  log "appended to docs/BENCHMARKS.md"
fi
