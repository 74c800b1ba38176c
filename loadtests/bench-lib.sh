# Shared by bench.sh and soak.sh (sourced, not run): a work directory, a Release node on its own free loopback ports
# and data directory, CPU pinning of the node and the generator, and a cleanup that stops exactly the PIDs started here.
# The caller sets `set -euo pipefail` and ROOT (the repository root) before sourcing.

WORK=$(mktemp -d /tmp/cmpcluster-bench.XXXXXX)
STARTED_PIDS=()          # every process started here, stopped by PID on exit
CLEANUP_HOOKS=()         # commands run first on exit (e.g. deploy/local/cluster.sh down)

log() { echo "$(basename "$0" .sh): $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

stop_pid() { # TERM, wait up to 5 s, then KILL: a node flushes its store on TERM.
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local hook pid
  for hook in "${CLEANUP_HOOKS[@]}"; do eval "$hook" >&2 || true; done
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid"; done
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap bench_cleanup EXIT
# A signal must run the cleanup too, and then end the script (the EXIT trap alone would not stop it on INT).
trap 'exit 130' INT TERM

# --- CPU pinning ---------------------------------------------------------------------------------------------------
# Node and generator on disjoint cores, so that the generator's CPU (1.5-3.5 ms per transaction, as much as the node's)
# does not steal from the node and the node's CPU per transaction is not inflated by contention with its own client.
# Default: the first half of the cores this process may use for the node, the second half for the generator
# (2 cores: NODE_CPUS=0 GEN_CPUS=1; 16 cores: 0-7 and 8-15). PIN=0 turns pinning off.
allowed_cpus() { python3 - "$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)" <<'EOF'
import sys
cpus = []
for part in sys.argv[1].split(","):
    lo, _, hi = part.partition("-")
    cpus += range(int(lo), int(hi or lo) + 1)
print(" ".join(map(str, cpus)))
EOF
}
cpu_list_count() { # "0-3,8" -> 5
  python3 -c 'import sys; print(sum(int(p.partition("-")[2] or p) - int(p.partition("-")[0]) + 1 for p in sys.argv[1].split(",")))' "$1"
}
setup_pinning() {
  PIN=${PIN:-1}
  NODE_PIN=(); GEN_PIN=()
  if [[ "$PIN" != 1 ]]; then
    NODE_CPUS=all; GEN_CPUS=all; NODE_CORES=$(nproc)
    return
  fi
  command -v taskset >/dev/null || { log "taskset missing (apt-get install util-linux), or run with PIN=0"; exit 1; }
  local cpus; read -r -a cpus <<<"$(allowed_cpus)"
  if (( ${#cpus[@]} < 2 )); then
    log "only ${#cpus[@]} core allowed: pinning needs 2 or more (run with PIN=0)"; exit 1
  fi
  local half=$(( ${#cpus[@]} / 2 ))
  local node_default gen_default
  node_default=$(IFS=,; echo "${cpus[*]:0:$half}")
  gen_default=$(IFS=,; echo "${cpus[*]:$half}")
  NODE_CPUS=${NODE_CPUS:-$node_default}
  GEN_CPUS=${GEN_CPUS:-$gen_default}
  NODE_CORES=$(cpu_list_count "$NODE_CPUS")
  NODE_PIN=(taskset -c "$NODE_CPUS")
  GEN_PIN=(taskset -c "$GEN_CPUS")
}
pinning_text() {
  if [[ "$PIN" == 1 ]]; then
    echo "node pinned to CPU $NODE_CPUS ($NODE_CORES core(s)), generator to CPU $GEN_CPUS (taskset)"
  else
    echo "no pinning: node and generator share the machine's $(nproc) cores"
  fi
}

build_release() { # projects...
  [[ "${SKIP_BUILD:-0}" == 1 ]] && return
  local project
  for project in "$@"; do
    log "building $project (Release)"
    dotnet build "$ROOT/$project" -c Release -v q -nologo >&2
  done
}

LOADGEN_DLL="$ROOT/loadtests/bin/Release/net10.0/CmpCluster.LoadTests.dll"
SILO_DLL="$ROOT/silo/bin/Release/net10.0/CmpCluster.Silo.dll"

# The node settings a run was given beyond the defaults (environment variables of the node's sections, NODE_ARGS), as
# they would be typed before the command; empty when there are none. Written into the reports, so a figure measured
# with e.g. a shorter messageTime window says so.
node_settings_text() {
  local text
  text=$(env | grep -E '^(Cmp|Node|Pki|Orleans|RateLimits|Audit|Gateway|Tcp)__' | sort | tr '\n' ' ')
  [[ -n "${NODE_ARGS:-}" ]] && text+="NODE_ARGS=\"$NODE_ARGS\" "
  printf '%s' "$text"
}

# start_node DATA_DIR: the single-node default (SQLite), Release, log level Warning, on free loopback ports, pinned.
# Sets NODE_PID, BASE (devices) and MGMT (management listener: /metrics, admin API). The generator is one client address:
# the default per-address limit (1 000 requests a second) would answer part of a saturated run with 429, so the limiter
# runs (its cost is counted) with a per-address bucket no run drains. NODE_ARGS: more settings for the node.
start_node() {
  local data=$1 http
  http=$(free_port)
  BASE="http://127.0.0.1:$http"
  # Its own management port too: the default (127.0.0.1:8081) may be taken by another node on this machine.
  MGMT="http://127.0.0.1:$(free_port)"
  "${NODE_PIN[@]}" dotnet "$SILO_DLL" --urls "$BASE" --Management:Urls="$MGMT" --Node:DataDirectory="$data" \
    --Node:SiloPort="$(free_port)" --Node:GatewayPort="$(free_port)" --Tcp:Port="$(free_port)" --Logging:LogLevel:Default=Warning \
    --RateLimits:PerAddress:TokenLimit=1000000 --RateLimits:PerAddress:TokensPerPeriod=1000000 ${NODE_ARGS:-} \
    >"$WORK/node.log" 2>&1 &
  NODE_PID=$!
  STARTED_PIDS+=("$NODE_PID")
  for _ in $(seq 240); do
    curl -sf "$BASE/health" >/dev/null 2>&1 && break
    kill -0 "$NODE_PID" 2>/dev/null || { cat "$WORK/node.log" >&2; exit 1; }
    sleep 0.5
  done
  curl -sf "$BASE/health" >/dev/null || { log "node not healthy"; exit 1; }
  log "node pid $NODE_PID on $BASE (management $MGMT), $(pinning_text)"
}
