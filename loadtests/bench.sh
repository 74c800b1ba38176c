#!/usr/bin/env bash
# Standard benchmark of the single-node default, with two anchors measured in the same run:
#   (a) the crypto floor: `openssl speed ecdsap256`, one complete transaction = 3 signatures + 3 verifications;
#   (b) the `openssl cmp` mock server (single-threaded, fixed certificate), driven by sequential `openssl cmp` clients.
# Prints a Markdown table; with --write it also appends a dated section to docs/BENCHMARKS.md.
# Starts a node (or a local cluster) and a mock server on free loopback ports, and stops exactly those (by PID) on exit.
#
# usage: loadtests/bench.sh [--write] [--cluster]
#        loadtests/bench.sh --soak MINUTES [--write]      (runs loadtests/soak.sh: see there)
#        loadtests/bench.sh --signing    (CA key signing, file key vs SoftHSM2 token, P-256 and RSA-2048: the BenchmarkDotNet
#                                         KeyBackendBenchmarks; needs softhsm2 and opensc; figures in docs/BENCHMARKS.md)
#
# Settings (environment): DEVICES=16 WARMUP=5 DURATION=20 RATE=150 (open-model row) REVOKE_POOL=8000
#   JIT_WARMUP=120 (seconds of device-lifecycle load before the first measured row: the JIT is still tiering up after
#   90 s of saturation on one core, see docs/BENCHMARKS.md)
#   MOCK_TX=300 (transactions against the mock) SPEED_SECONDS=3 SCENARIOS="enroll enroll-implicit enroll-signed renew revoke"
#   (enroll-signed: the enroll scenario with --protection signature, ir + certConf signed by the device's certificate)
#   SKIP_BUILD=1 (reuse the Release build) KEEP_WORK=1 (keep the work directory: reports, node log)
#   NODE_CPUS / GEN_CPUS (taskset CPU lists of the node and of the generator; default: first and second half of the
#   allowed cores, 0 and 1 on 2 cores) PIN=0 (no pinning)
#   --cluster: deploy/local/cluster.sh (Redis, silos, gateways, HAProxy, cluster TLS) instead of the single node, all of
#   it pinned to NODE_CPUS; CLUSTER_SILOS=1 CLUSTER_GATEWAYS=1. Server CPU is summed over every process of the cluster.
set -euo pipefail

if [ "${1:-}" = "--signing" ]; then
  cd "$(dirname "$0")/.."
  exec dotnet run -c Release --project benchmarks/CmpCluster.Benchmarks -- --filter '*KeyBackendBenchmarks*'
fi

DEVICES=${DEVICES:-16}
WARMUP=${WARMUP:-5}
JIT_WARMUP=${JIT_WARMUP:-120}
DURATION=${DURATION:-20}
RATE=${RATE:-150}
REVOKE_POOL=${REVOKE_POOL:-8000}
MOCK_TX=${MOCK_TX:-300}
SPEED_SECONDS=${SPEED_SECONDS:-3}
SCENARIOS=${SCENARIOS:-"enroll enroll-implicit enroll-signed renew revoke"}
CLUSTER_SILOS=${CLUSTER_SILOS:-1}
CLUSTER_GATEWAYS=${CLUSTER_GATEWAYS:-1}
WRITE=0
CLUSTER=0
SOAK=""
while (( $# )); do
  case "$1" in
    --write) WRITE=1 ;;
    --cluster) CLUSTER=1 ;;
    --soak) SOAK=${2:?--soak needs MINUTES}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n "$SOAK" ]]; then
  (( CLUSTER == 0 )) || { echo "--soak runs the single node; --cluster is not supported there" >&2; exit 2; }
  args=("$SOAK"); (( WRITE )) && args+=(--write)
  exec "$(dirname "$0")/soak.sh" "${args[@]}"
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench-lib.sh
source "$ROOT/loadtests/bench-lib.sh"
cd "$ROOT"
setup_pinning
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the node, or the cluster --------------------------------------------------------------------------------------
if (( CLUSTER )); then
  build_release silo gateway loadtests
  STATE="$WORK/cluster"
  CLUSTER_SH="$ROOT/deploy/local/cluster.sh"
  # cluster.sh stops exactly the PIDs it wrote; registered before `up` so that a half-started cluster is stopped too.
  CLEANUP_HOOKS+=("'$CLUSTER_SH' down -d '$STATE'")
  log "cluster: $CLUSTER_SILOS silo(s), $CLUSTER_GATEWAYS gateway(s), $(pinning_text)"
  # Affinity is inherited: every process cluster.sh starts (redis-server, silos, gateways, haproxy) runs on NODE_CPUS.
  "${NODE_PIN[@]}" "$CLUSTER_SH" up -s "$CLUSTER_SILOS" -g "$CLUSTER_GATEWAYS" -d "$STATE" --no-build >&2
  BASE=$(cat "$STATE/pids/haproxy.url")
  ROLE_FILES=("$STATE"/pids/*.pid)
  SERVER_PIDS=$(cat "${ROLE_FILES[@]}" | paste -sd,)
  TARGET="local cluster (deploy/local/cluster.sh: Redis AOF appendfsync always, $CLUSTER_SILOS silo(s), $CLUSTER_GATEWAYS gateway(s), HAProxy, cluster TLS), Release"
else
  build_release silo loadtests
  start_node "$WORK/data"
  SERVER_PIDS=$NODE_PID
  TARGET="single-node default (SQLite, P-256 CA, Release, log level Warning) on a fresh data directory"
fi

# role_ticks: CPU ticks of each cluster role (silo gateway redis haproxy), to split the cluster's CPU between them.
role_ticks() {
  local f name pid s=0 g=0 r=0 h=0 t
  for f in "${ROLE_FILES[@]}"; do
    name=$(basename "$f" .pid); pid=$(cat "$f")
    t=$(cpu_ticks "$pid" 2>/dev/null || echo 0)
    case "$name" in silo-*) s=$((s + t)) ;; gateway-*) g=$((g + t)) ;; redis) r=$((r + t)) ;; haproxy) h=$((h + t)) ;; esac
  done
  echo "$s $g $r $h"
}

LOADGEN=("${GEN_PIN[@]}" dotnet "$LOADGEN_DLL" --base-url "$BASE" --server-pid "$SERVER_PIDS" --warmup "$WARMUP" --no-progress)
COMMANDS=()
run_load() { # name, args...
  local name=$1; shift
  log "run $name: $*"
  COMMANDS+=("loadtests ${*}")
  local before=""
  (( CLUSTER )) && before=$(role_ticks)
  "${LOADGEN[@]}" "$@" --json "$WORK/$name.json" >"$WORK/$name.md" || log "$name reported errors (see table)"
  # Warm-up + measured window (the generator's figure is the measured window only): read as shares, not as ms.
  if (( CLUSTER )); then paste -d' ' <(echo "$before") <(role_ticks) >"$WORK/$name.split"; fi
}

# Warm the node's JIT first: tiered compilation (with dynamic PGO) keeps recompiling hot methods for minutes under load
# on one core, and until it is done a transaction costs up to twice the CPU. The mix reaches ir, certConf, kur and rr.
log "JIT warm-up: $JIT_WARMUP s of device-lifecycle load"
"${LOADGEN[@]}" --scenario device-lifecycle --concurrency "$DEVICES" --duration "$JIT_WARMUP" --warmup 0 >/dev/null || true
# Methods the JIT compiled while the rows were measured (single node: its /metrics): near 0 means a warm node.
jit_methods() { curl -sf "$MGMT/metrics" 2>/dev/null | awk '/^dotnet_jit_compiled_methods_total/ {s += $2} END {print s + 0}'; }
(( CLUSTER )) || JIT_BEFORE=$(jit_methods)

for scenario in $SCENARIOS; do
  args=(--scenario "$scenario")
  [[ "$scenario" == revoke ]] && args+=(--pool "$REVOKE_POOL")
  # ir + certConf signed by the device's certificate, on the client-mode alias (EndEntityCertificate).
  [[ "$scenario" == enroll-signed ]] && args=(--scenario enroll --protection signature)
  run_load "$scenario" "${args[@]}" --concurrency "$DEVICES" --duration "$DURATION"
done
run_load "open-enroll" --scenario enroll --rate "$RATE" --ramp "$WARMUP" --max-in-flight 64 --duration "$DURATION"
JIT_TEXT=""
(( CLUSTER )) || JIT_TEXT=" JIT: $(( $(jit_methods) - JIT_BEFORE )) methods compiled during the measured rows."

# --- anchor (a): crypto floor ---------------------------------------------------------------------------------
# On the node's cores: the floor is what those cores can sign and verify (openssl speed is single-threaded).
log "openssl speed -seconds $SPEED_SECONDS ecdsap256"
read -r SIGN_S VERIFY_S < <("${NODE_PIN[@]}" openssl speed -seconds "$SPEED_SECONDS" ecdsap256 2>/dev/null | awk '/bits ecdsa \(nistp256\)/ {print $(NF-1), $NF}')
FLOOR_MS=$(python3 -c "print(f'{1000*(3/$SIGN_S+3/$VERIFY_S):.3f}')")

# --- anchor (b): openssl cmp mock server ----------------------------------------------------------------------
# The mock server on the node's cores, its clients on the generator's, like the node and the generator.
MOCK_PORT=$(free_port)
openssl ecparam -genkey -name prime256v1 -noout -out "$WORK/mock.key" 2>/dev/null
openssl req -new -x509 -key "$WORK/mock.key" -subj /CN=mock-ca -days 2 -out "$WORK/mock.crt" 2>/dev/null
"${NODE_PIN[@]}" openssl cmp -port "$MOCK_PORT" -srv_ref ra -srv_secret pass:changeit -rsp_cert "$WORK/mock.crt" >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
STARTED_PIDS+=("$MOCK_PID")
for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$MOCK_PORT") 2>/dev/null && break; sleep 0.1; done
log "mock server pid $MOCK_PID: $MOCK_TX sequential openssl cmp ir + certConf"
MOCK_FAIL=0
MOCK_START=$(cpu_ticks "$MOCK_PID"); T0=$(date +%s.%N)
for _ in $(seq "$MOCK_TX"); do
  "${GEN_PIN[@]}" openssl cmp -cmd ir -server "127.0.0.1:$MOCK_PORT" -ref ra -secret pass:changeit -newkey "$WORK/mock.key" \
    -subject /CN=device -certout "$WORK/mock-out.pem" >/dev/null 2>&1 || MOCK_FAIL=$((MOCK_FAIL + 1))
done
MOCK_END=$(cpu_ticks "$MOCK_PID"); T1=$(date +%s.%N)
MOCK_MS=$(python3 -c "print(f'{($MOCK_END-$MOCK_START)*10/$MOCK_TX:.3f}')")
MOCK_RATE=$(python3 -c "print(f'{$MOCK_TX/($T1-$T0):.0f}')")

# --- table ------------------------------------------------------------------------------------------------------
TABLE=$(python3 - "$WORK" "$FLOOR_MS" "$MOCK_MS" "$NODE_CORES" "$CLUSTER" $SCENARIOS open-enroll <<'EOF'
import json, os, sys
work, floor, mock, cores, cluster, names = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6:]
split_head = " CPU split silo / gateway / redis / haproxy |" if cluster else ""
print(f"| scenario | model | tx/s | tx/s per server core | server cores busy | server CPU ms/tx | × floor | × mock | client CPU ms/tx | transaction p50 / p99 ms | errors | dropped |{split_head}")
print("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if cluster else ""))
for name in names:
    r = json.load(open(f"{work}/{name}.json"))
    model = f"open {r['rate']:g}/s" if r["model"] == "open" else f"closed {r['concurrency']}"
    cpu = r.get("serverCpuMsPerTransaction")
    tps = r["transactionsPerSecond"]
    t = r["latency"].get("transaction", {"p50Ms": 0, "p99Ms": 0})
    ratio = lambda anchor: f"{cpu / anchor:.1f}" if cpu and anchor else "n/a"
    # Share of the server's cores kept busy: near 100 % the node was CPU-bound and tx/s per core is its capacity;
    # far below, it waited on something else (fsync, the generator, another tenant of the machine).
    busy = f"{100 * tps * cpu / 1000 / cores:.0f} %" if cpu else "n/a"
    note = (" (signature)" if r.get("protection") == "signature" else "") + (" (stopped early)" if r.get("stoppedEarly") else "")
    split = ""
    if cluster:
        path = f"{work}/{name}.split"
        if os.path.exists(path):
            v = list(map(int, open(path).read().split()))
            d = [v[i + 4] - v[i] for i in range(4)]
            total = sum(d) or 1
            split = " " + " / ".join(f"{100 * x / total:.0f}" for x in d) + " % |"
        else:
            split = " n/a |"
    print(f"| {r['scenario']}{note} | {model} | {tps:.0f} | {tps / cores:.0f} | {busy} | {cpu or 0:.3f} | {ratio(floor)} | {ratio(mock)} | "
          f"{r.get('clientCpuMsPerTransaction') or 0:.3f} | {t['p50Ms']:.1f} / {t['p99Ms']:.1f} | {r['errors']} | {r['dropped']} |{split}")
EOF
)
ANCHORS="Anchors: crypto floor $FLOOR_MS ms CPU per transaction (openssl speed: P-256 sign $SIGN_S/s, verify $VERIFY_S/s, 3 + 3 per transaction); openssl cmp mock server $MOCK_MS ms CPU per ir + certConf ($MOCK_TX sequential openssl cmp clients, $MOCK_RATE tx/s incl. client start-up, $MOCK_FAIL failed)."
MACHINE="Machine: $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), load average at start $LOAD_AT_START; $(pinning_text).$JIT_TEXT"

echo
echo "$TABLE"
echo
echo "$ANCHORS"
echo
echo "$MACHINE"
for name in $SCENARIOS open-enroll; do echo; echo "### $name"; cat "$WORK/$name.md"; done

if [[ $WRITE == 1 ]]; then
  settings="$(node_settings_text)DEVICES=$DEVICES WARMUP=$WARMUP JIT_WARMUP=$JIT_WARMUP DURATION=$DURATION RATE=$RATE REVOKE_POOL=$REVOKE_POOL MOCK_TX=$MOCK_TX"
  [[ "$PIN" == 1 ]] && settings+=" NODE_CPUS=$NODE_CPUS GEN_CPUS=$GEN_CPUS" || settings+=" PIN=0"
  flag=""
  if (( CLUSTER )); then settings+=" CLUSTER_SILOS=$CLUSTER_SILOS CLUSTER_GATEWAYS=$CLUSTER_GATEWAYS"; flag=" --cluster"; fi
  {
    echo
    echo "## bench.sh$flag, $(date -u +%Y-%m-%d) ($(git rev-parse --short HEAD))"
    echo
    echo "\`$settings loadtests/bench.sh$flag --write\`:"
    echo "$TARGET, after a $JIT_WARMUP s JIT warm-up run (device-lifecycle). $MACHINE"
    echo "Server cores busy = tx/s × server CPU ms/tx ÷ server cores. Generator commands (plus \`--base-url --server-pid --warmup $WARMUP\`):"
    echo
    for c in "${COMMANDS[@]}"; do echo "    $c"; done
    echo
    echo "$TABLE"
    echo
    echo "$ANCHORS"
  } >>docs/BENCHMARKS.md
  log "appended to docs/BENCHMARKS.md"
fi
