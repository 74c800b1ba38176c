#!/usr/bin/env bash
# Soak test of the single-node default: does the node keep its memory, its activations, its latency and its store
# growth flat under a steady load for a long time?
#
# usage: loadtests/soak.sh MINUTES [--write]        (also: loadtests/bench.sh --soak MINUTES [--write])
#
# 1. A fresh node (Release build of silo/, own free loopback ports, own data directory, the flags bench.sh uses),
#    pinned like bench.sh (NODE_CPUS / GEN_CPUS, PIN=0 for none); a 5 s JIT warm-up run.
# 2. Saturation, briefly: closed model, SAT_DEVICES devices for SAT_SECONDS (after 3 s warm-up), giving tx/s.
# 3. The soak: open model at SOAK_FRACTION of that rate (ramp RAMP s), MINUTES long. Every SAMPLE_EVERY s: node RSS
#    (/proc/PID/status VmRSS), GC heap after the last collection and Orleans activations (the node's Prometheus
#    /metrics on its management listener: dotnet_gc_last_collection_heap_size_bytes summed over generations,
#    orleans_catalog_activations summed over grain types), the store on disk (the data directory's SQLite files with
#    their -wal and -shm) and, from the generator's --samples, tx/s, drops, errors and p50/p99 of the window.
# 4. A CSV (one row per sample), a PNG plot (gnuplot) and a summary: retained bytes per enrolled device (store growth /
#    enrollments of the soak), RSS slope over the last 10 minutes (the last half of shorter runs) in MB/min, p99 of the
#    first full window after the ramp vs the last. With --write: docs/img/soak-TIMESTAMP.csv and .png, and the summary
#    with the exact command appended to docs/BENCHMARKS.md; without it, loadtests/results/soak-TIMESTAMP/ (SOAK_OUT
#    overrides).
#
# Settings (environment): SOAK_FRACTION=0.7 SAT_DEVICES=16 SAT_SECONDS=20 SAMPLE_EVERY=10 RAMP=10 MAX_IN_FLIGHT=64
#   SCENARIO=enroll (any generator scenario that needs no pool: enroll, enroll-implicit) SKIP_BUILD=1 KEEP_WORK=1
#   NODE_CPUS GEN_CPUS PIN SOAK_OUT
set -euo pipefail

MINUTES=""
WRITE=0
while (( $# )); do
  case "$1" in
    --write) WRITE=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) [[ -z "$MINUTES" && "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "usage: $0 MINUTES [--write]" >&2; exit 2; }; MINUTES=$1 ;;
  esac
  shift
done
[[ -n "$MINUTES" ]] || { echo "usage: $0 MINUTES [--write]" >&2; exit 2; }

SOAK_FRACTION=${SOAK_FRACTION:-0.7}
SAT_DEVICES=${SAT_DEVICES:-16}
SAT_SECONDS=${SAT_SECONDS:-20}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
RAMP=${RAMP:-10}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-64}
SCENARIO=${SCENARIO:-enroll}
case "$SCENARIO" in enroll|enroll-implicit) ;; *) echo "SCENARIO must be enroll or enroll-implicit (one new device per transaction)" >&2; exit 2 ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench-lib.sh
source "$ROOT/loadtests/bench-lib.sh"
cd "$ROOT"
setup_pinning
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STAMP=$(date -u +%Y%m%d-%H%M%S)
if (( WRITE )); then
  # Dated names: every section appended to docs/BENCHMARKS.md keeps showing its own run.
  OUT_CSV=docs/img/soak-$STAMP.csv; OUT_PNG=docs/img/soak-$STAMP.png
  mkdir -p docs/img
else
  OUT=${SOAK_OUT:-loadtests/results/soak-$STAMP}
  mkdir -p "$OUT"
  OUT_CSV=$OUT/soak.csv; OUT_PNG=$OUT/soak.png
fi
command -v gnuplot >/dev/null || log "gnuplot not installed (apt-get install gnuplot-nox): the CSV and the summary only, no plot"

build_release silo loadtests
DATA="$WORK/data"
start_node "$DATA"
LOADGEN=("${GEN_PIN[@]}" dotnet "$LOADGEN_DLL" --base-url "$BASE" --server-pid "$NODE_PID" --scenario "$SCENARIO" --no-progress)

# --- warm-up and saturation ----------------------------------------------------------------------------------------
# The first seconds after a start cost several times more CPU per transaction (tiered JIT): not part of saturation.
"${LOADGEN[@]}" --concurrency "$SAT_DEVICES" --duration 5 --warmup 0 >/dev/null || true
log "saturation: closed model, $SAT_DEVICES devices, $SAT_SECONDS s"
"${LOADGEN[@]}" --concurrency "$SAT_DEVICES" --duration "$SAT_SECONDS" --warmup 3 --json "$WORK/saturation.json" >"$WORK/saturation.md" \
  || log "saturation run reported errors (see $WORK/saturation.md with KEEP_WORK=1)"
read -r SAT_TPS SAT_CPU SAT_P99 < <(python3 - "$WORK/saturation.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['transactionsPerSecond']:.1f} {r.get('serverCpuMsPerTransaction') or 0:.3f} {r['latency'].get('transaction', {}).get('p99Ms', 0):.1f}")
EOF
)
RATE=$(python3 -c "print(f'{max(1.0, $SOAK_FRACTION * $SAT_TPS):.1f}')")
DURATION=$(python3 -c "print(int(round($MINUTES * 60)))")
log "saturation $SAT_TPS tx/s ($SAT_CPU ms server CPU per transaction, p99 $SAT_P99 ms); soak at $RATE tx/s for $DURATION s"

# --- sampling --------------------------------------------------------------------------------------------------------
# Prometheus text: sum a metric over its labels (generations, grain types). Empty when the node does not answer.
metric_sum() { awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $NF; n++} END {if (n) printf "%.0f", s}' "$WORK/metrics.txt"; }
NODE_CSV="$WORK/node.csv"
echo "unix_time,rss_kb,gc_heap_bytes,gc_committed_bytes,activations,store_bytes,db_bytes" >"$NODE_CSV"
sample_node() {
  local rss="" store db
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$NODE_PID/status" 2>/dev/null || true)
  curl -sf -m 5 "$MGMT/metrics" >"$WORK/metrics.txt" 2>/dev/null || : >"$WORK/metrics.txt"
  # The store: every SQLite file of the data directory, WAL and shared memory included (what the disk really holds).
  store=$(find "$DATA" -type f \( -name '*.db' -o -name '*.db-wal' -o -name '*.db-shm' \) -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  db=$(find "$DATA" -type f -name '*.db' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  echo "$(date +%s.%N | cut -c1-14),$rss,$(metric_sum dotnet_gc_last_collection_heap_size_bytes),$(metric_sum dotnet_gc_last_collection_memory_committed_size_bytes),$(metric_sum orleans_catalog_activations),$store,$db" >>"$NODE_CSV"
}

# --- the soak --------------------------------------------------------------------------------------------------------
GEN_ARGS=(--rate "$RATE" --ramp "$RAMP" --max-in-flight "$MAX_IN_FLIGHT" --warmup 0 --duration "$DURATION"
  --sample-every "$SAMPLE_EVERY" --samples "$WORK/generator.csv")
sample_node # the baseline: the store after warm-up and saturation, before the soak
"${LOADGEN[@]}" "${GEN_ARGS[@]}" --json "$WORK/soak.json" >"$WORK/soak.md" &
GEN_PID=$!
STARTED_PIDS+=("$GEN_PID")
log "soak: generator pid $GEN_PID ($SCENARIO, open model $RATE tx/s, ramp $RAMP s, at most $MAX_IN_FLIGHT in flight), sampling every $SAMPLE_EVERY s"
START=$SECONDS
next=$SAMPLE_EVERY
while kill -0 "$GEN_PID" 2>/dev/null; do
  sleep 1
  if (( SECONDS - START >= next )); then
    sample_node
    next=$((next + SAMPLE_EVERY))
    if ! kill -0 "$NODE_PID" 2>/dev/null; then
      log "the node exited during the soak (log kept: $WORK/node.log)"; KEEP_WORK=1; stop_pid "$GEN_PID"; break
    fi
    if (( (SECONDS - START) % 60 < SAMPLE_EVERY )); then log "$(( (SECONDS - START) / 60 )) min: $(tail -n1 "$NODE_CSV")"; fi
  fi
done
GEN_RC=0
wait "$GEN_PID" || GEN_RC=$?
sample_node # the end state
(( GEN_RC == 0 )) || log "the generator reported errors (exit $GEN_RC)"

# --- CSV, summary, plot ------------------------------------------------------------------------------------------------
SUMMARY=$(python3 - "$NODE_CSV" "$WORK/generator.csv" "$WORK/soak.json" "$OUT_CSV" "$RAMP" "$SAMPLE_EVERY" "$RATE" "$SAT_TPS" <<'EOF'
import csv, json, sys
node_csv, gen_csv, soak_json, out_csv = sys.argv[1:5]
ramp, every, rate, sat = float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
node = list(csv.DictReader(open(node_csv)))
gen = list(csv.DictReader(open(gen_csv)))
report = json.load(open(soak_json))
t0 = float(node[0]["unix_time"])
num = lambda v: float(v) if v not in ("", None) else None

# Each node sample gets the generator window that ended nearest to it (both run every SAMPLE_EVERY s).
rows = []
for n in node:
    t = float(n["unix_time"])
    g = min(gen, key=lambda w: abs(float(w["unix_time"]) - t), default=None)
    if g is not None and abs(float(g["unix_time"]) - t) > every / 2 + 1:
        g = None
    mb = lambda v: f"{v / 2**20:.2f}" if v is not None else ""
    rss = num(n["rss_kb"])
    rows.append({
        "elapsed_min": f"{(t - t0) / 60:.3f}",
        "rss_mb": f"{rss / 1024:.2f}" if rss is not None else "",
        "gc_heap_mb": mb(num(n["gc_heap_bytes"])),
        "gc_committed_mb": mb(num(n["gc_committed_bytes"])),
        "activations": n["activations"],
        "store_mb": mb(num(n["store_bytes"])),
        "db_mb": mb(num(n["db_bytes"])),
        "offered_tx_per_s": f"{rate:g}",
        "tx_per_s": g["tx_per_s"] if g else "",
        "p50_ms": g["p50_ms"] if g else "",
        "p99_ms": g["p99_ms"] if g else "",
        "errors": g["errors"] if g else "",
        "dropped": g["dropped"] if g else "",
        "server_cpu_ms_per_tx": g["server_cpu_ms_per_tx"] if g else "",
    })
with open(out_csv, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)

# Retained bytes per enrolled device: store growth over the soak / enrollments of the soak (each a new device).
enrolled = report["transactions"]
growth = num(node[-1]["store_bytes"]) - num(node[0]["store_bytes"])
db_growth = num(node[-1]["db_bytes"]) - num(node[0]["db_bytes"])

# RSS slope (least squares) over the last 10 minutes, or the last half of a shorter soak.
t_end = float(node[-1]["unix_time"])
span = 600 if t_end - t0 >= 1200 else (t_end - t0) / 2
def slope(column, scale):
    pts = [(float(n["unix_time"]) / 60, num(n[column]) * scale) for n in node if num(n[column]) is not None and float(n["unix_time"]) >= t_end - span]
    if len(pts) < 2:
        return float("nan")
    mx = sum(x for x, _ in pts) / len(pts); my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else float("nan")
rss_slope = slope("rss_kb", 1 / 1024)
heap_slope = slope("gc_heap_bytes", 1 / 2**20)

# p99 of the first full window after the ramp, and of the last full window.
full = [w for w in gen if float(w["window_s"]) >= 0.9 * every and int(w["transactions"]) > 0]
after_ramp = [w for w in full if float(w["elapsed_s"]) - float(w["window_s"]) >= ramp] or full
first, last = (after_ramp[0], after_ramp[-1]) if after_ramp else (None, None)
acts = [int(n["activations"]) for n in node if n["activations"]]
rss = [num(n["rss_kb"]) / 1024 for n in node if n["rss_kb"]]
lat = report["latency"].get("transaction", {})

def fmt(x, f="{:.2f}"):
    return f.format(x) if x == x else "n/a"
print(f"| figure | value |")
print(f"|---|---|")
print(f"| saturation (closed model) | {sat:.1f} tx/s |")
print(f"| offered / completed (ramp included) | {rate:g} / {report['transactionsPerSecond']:.1f} tx/s over {report['measuredSeconds'] / 60:.1f} min |")
print(f"| enrollments (new devices), errors, dropped | {enrolled}, {report['errors']}, {report['dropped']} |")
print(f"| server CPU per transaction | {report.get('serverCpuMsPerTransaction') or 0:.3f} ms |")
print(f"| transaction p50 / p99 (whole soak) | {lat.get('p50Ms', 0):.1f} / {lat.get('p99Ms', 0):.1f} ms |")
if first:
    print(f"| p99 first window after the ramp (at {float(first['elapsed_s']):.0f} s) vs last (at {float(last['elapsed_s']):.0f} s) | {float(first['p99_ms']):.1f} → {float(last['p99_ms']):.1f} ms |")
print(f"| store growth (SQLite files with -wal, -shm) | {growth / 2**20:.1f} MiB: **{growth / enrolled if enrolled else float('nan'):.0f} bytes per enrolled device** |")
print(f"| main database files only (.db, without the WAL) | {db_growth / 2**20:.1f} MiB: {db_growth / enrolled if enrolled else float('nan'):.0f} bytes per enrolled device |")
print(f"| RSS start → max → end | {rss[0]:.0f} → {max(rss):.0f} → {rss[-1]:.0f} MiB |")
print(f"| RSS slope, last {span / 60:.1f} min | **{fmt(rss_slope)} MiB/min** |")
print(f"| GC heap slope (after last collection), last {span / 60:.1f} min | {fmt(heap_slope)} MiB/min |")
if acts:
    print(f"| Orleans activations start → max → end | {acts[0]} → {max(acts)} → {acts[-1]} |")
EOF
)

if command -v gnuplot >/dev/null; then
  XMAX=$(tail -n1 "$OUT_CSV" | cut -d, -f1)
  gnuplot <<EOF
set terminal pngcairo size 1100,1300 font ",10"
set output "$OUT_PNG"
set datafile separator ","
set key autotitle columnhead top left
set grid
set multiplot layout 5,1 title "CmpCluster soak: $SCENARIO at $RATE tx/s ($SOAK_FRACTION × saturation $SAT_TPS tx/s), $MINUTES min, $(date -u +%Y-%m-%d)"
set lmargin 12
set xrange [0:$XMAX]
set ylabel "MiB"
plot "$OUT_CSV" using 1:2 with lines lw 2 title "node RSS", "" using 1:3 with lines lw 2 title "GC heap (after last GC)", "" using 1:4 with lines title "GC committed"
set ylabel "activations"
plot "$OUT_CSV" using 1:5 with lines lw 2 title "Orleans activations"
set ylabel "MiB"
plot "$OUT_CSV" using 1:6 with lines lw 2 title "store (SQLite + WAL)", "" using 1:7 with lines title "main .db files"
set ylabel "ms"
set logscale y
plot "$OUT_CSV" using 1:11 with lines lw 2 title "p99 of the ${SAMPLE_EVERY} s window", "" using 1:10 with lines title "p50"
unset logscale y
set ylabel "tx/s"
set xlabel "minutes"
set key bottom right
plot "$OUT_CSV" using 1:9 with lines lw 2 title "completed", "" using 1:8 with lines dt 2 title "offered", "" using 1:13 with impulses title "dropped in window"
unset multiplot
EOF
  log "plot: $OUT_PNG"
fi

COMMAND="$(node_settings_text)SOAK_FRACTION=$SOAK_FRACTION SAT_DEVICES=$SAT_DEVICES SAT_SECONDS=$SAT_SECONDS SAMPLE_EVERY=$SAMPLE_EVERY RAMP=$RAMP MAX_IN_FLIGHT=$MAX_IN_FLIGHT SCENARIO=$SCENARIO"
[[ "$PIN" == 1 ]] && COMMAND+=" NODE_CPUS=$NODE_CPUS GEN_CPUS=$GEN_CPUS" || COMMAND+=" PIN=0"
COMMAND+=" loadtests/soak.sh $MINUTES"
if (( WRITE )); then COMMAND+=" --write"; fi
MACHINE="Machine: $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), load average at start $LOAD_AT_START; $(pinning_text)."

echo
echo "$SUMMARY"
echo
echo "$MACHINE"
echo "CSV: $OUT_CSV$(command -v gnuplot >/dev/null && echo "   plot: $OUT_PNG")"
echo "Command: $COMMAND"

if (( WRITE )); then
  {
    echo
    echo "## soak.sh, $(date -u +%Y-%m-%d) ($(git rev-parse --short HEAD))"
    echo
    echo "\`$COMMAND\`:"
    echo "single-node default (SQLite, P-256 CA, Release, log level Warning) on a fresh data directory; 5 s JIT warm-up, then"
    echo "saturation (closed model, $SAT_DEVICES devices, $SAT_SECONDS s), then the open model at $SOAK_FRACTION of it for $MINUTES min, one new"
    echo "device per $SCENARIO transaction, sampled every $SAMPLE_EVERY s. $MACHINE"
    echo "Series: [${OUT_CSV#docs/}](${OUT_CSV#docs/})."
    echo
    echo "![soak: RSS, GC heap, activations, store size, p99 against time](${OUT_PNG#docs/})"
    echo
    echo "$SUMMARY"
  } >>docs/BENCHMARKS.md
  log "appended to docs/BENCHMARKS.md"
fi
exit "$GEN_RC"
