#!/usr/bin/env bash
# What one enrollment costs in cluster mode, beyond CPU time: Redis commands, Redis memory and append-only-file bytes,
# network bytes on each hop, and the CPU split between silo, gateway, Redis and HAProxy. docs/CAPACITY.md uses it.
#
# Starts deploy/local/cluster.sh (SILOS silo(s), 1 gateway, Redis with appendfsync always, HAProxy, cluster TLS) on free
# loopback ports, warms it up with WARMUP seconds of enrollments, then runs enrollments (ir + certConf, PBM, alias ra,
# closed model, DEVICES devices) and measures a WINDOW-second stretch in the middle of that run, so every figure is a
# difference between two snapshots of a steady load. Enrollments in the window = the silos' cmp_certificates_issued_total
# difference. Prints a Markdown report; stops exactly what it started (deploy/local/cluster.sh down, PIDs).
#
# usage: loadtests/cluster-cost.sh
# Settings (environment): WARMUP=60 WINDOW=40 DEVICES=16 SILOS=1 SKIP_BUILD=1 KEEP_WORK=1, NODE_CPUS / GEN_CPUS / PIN as
#   in loadtests/bench.sh (the cluster's processes on NODE_CPUS, the generator on GEN_CPUS).
# Bytes on a hop are summed over the TCP connections between two processes (`ss -ti`: bytes_sent, bytes_received):
# connections open at both snapshots count their difference, connections opened in the window all their bytes;
# connections closed within the window are missed (the hops measured keep theirs open).
set -euo pipefail

WARMUP=${WARMUP:-60}
WINDOW=${WINDOW:-40}
DEVICES=${DEVICES:-16}
SILOS=${SILOS:-1}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench-lib.sh
source "$ROOT/loadtests/bench-lib.sh"
cd "$ROOT"
setup_pinning
command -v redis-cli >/dev/null || { log "redis-cli missing (apt-get install redis-tools)"; exit 1; }
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

build_release silo gateway loadtests
STATE="$WORK/cluster"
CLUSTER_SH="$ROOT/deploy/local/cluster.sh"
CLEANUP_HOOKS+=("'$CLUSTER_SH' down -d '$STATE'")
log "cluster: $SILOS silo(s), 1 gateway, $(pinning_text)"
"${NODE_PIN[@]}" "$CLUSTER_SH" up -s "$SILOS" -g 1 -d "$STATE" --no-build >&2
BASE=$(cat "$STATE/pids/haproxy.url")
REDIS_PORT=$(cat "$STATE/redis.port")

LOADGEN=("${GEN_PIN[@]}" dotnet "$LOADGEN_DLL" --base-url "$BASE" --no-progress --scenario enroll --concurrency "$DEVICES")
log "warm-up: $WARMUP s of enrollments"
"${LOADGEN[@]}" --warmup 0 --duration "$WARMUP" >/dev/null || log "warm-up reported errors"

# snapshot FILE: CPU ticks per role, bytes per TCP connection between the cluster's processes, Redis INFO, the silos'
# issued-certificate counters, the append-only file's size.
snapshot() {
  python3 - "$STATE" "$REDIS_PORT" >"$1" <<'EOF'
import glob, json, os, re, subprocess, sys, urllib.request
state, redis_port = sys.argv[1], sys.argv[2]
roles = {}
for f in glob.glob(f"{state}/pids/*.pid"):
    name = os.path.basename(f)[:-4]
    roles[int(open(f).read().strip())] = name
ticks = {}
for pid, name in roles.items():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks[name] = int(fields[11]) + int(fields[12])
ss = subprocess.run(["ss", "-tinpH", "state", "established"], capture_output=True, text=True).stdout.splitlines()
sockets = []
for head, info in zip(ss[0::2], ss[1::2]):
    parts = head.split()
    local, peer = parts[2], parts[3]
    pid = re.search(r"pid=(\d+)", head)
    sent = re.search(r"bytes_sent:(\d+)", info)
    received = re.search(r"bytes_received:(\d+)", info)
    if pid and int(pid.group(1)) in roles:
        sockets.append({"role": roles[int(pid.group(1))], "local": local, "peer": peer,
                        "sent": int(sent.group(1)) if sent else 0, "received": int(received.group(1)) if received else 0})
owner = {s["local"]: s["role"] for s in sockets}
for s in sockets:
    s["peerRole"] = owner.get(s["peer"], "client")
info = subprocess.run(["redis-cli", "-p", redis_port, "info"], capture_output=True, text=True).stdout
redis = dict(l.split(":", 1) for l in info.splitlines() if ":" in l and not l.startswith("#"))
issued = 0.0
for url in glob.glob(f"{state}/pids/silo-*.mgmt"):
    text = urllib.request.urlopen(open(url).read().strip() + "/metrics", timeout=10).read().decode()
    issued += sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("cmp_certificates_issued_total"))
aof = sum(os.path.getsize(p) for p in glob.glob(f"{state}/redis/**/*", recursive=True) if os.path.isfile(p))
json.dump({"ticks": ticks, "sockets": sockets, "redis": redis, "issued": issued, "aofBytes": aof}, sys.stdout)
EOF
}

log "measuring: enrollments for $((WINDOW + 20)) s, a $WINDOW s window from second 10"
"${LOADGEN[@]}" --warmup 0 --duration "$((WINDOW + 20))" --json "$WORK/run.json" >"$WORK/run.md" &
GEN_PID=$!
STARTED_PIDS+=("$GEN_PID")
sleep 10
redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
snapshot "$WORK/a.json"
sleep "$WINDOW"
snapshot "$WORK/b.json"
redis-cli -p "$REDIS_PORT" info commandstats >"$WORK/commandstats.txt"
wait "$GEN_PID" || log "the load run reported errors (see its report below)"

# Redis keys by kind (ids replaced by *), with their memory (MEMORY USAGE ... SAMPLES 0: exact).
redis-cli -p "$REDIS_PORT" --scan >"$WORK/keys.txt"
sed 's/.*/MEMORY USAGE "&" SAMPLES 0/' "$WORK/keys.txt" | redis-cli -p "$REDIS_PORT" >"$WORK/key-bytes.txt"

python3 - "$WORK" "$(getconf CLK_TCK)" <<'EOF'
import json, re, sys
from collections import defaultdict
work, hz = sys.argv[1], int(sys.argv[2])
a, b = json.load(open(f"{work}/a.json")), json.load(open(f"{work}/b.json"))
n = b["issued"] - a["issued"]
if n <= 0:
    sys.exit("no certificate was issued in the window")
print(f"Enrollments in the window: {n:.0f} (the silos' cmp_certificates_issued_total).\n")

print("| role | CPU ms per enrollment | share |\n|---|---|---|")
cpu = {r: (b["ticks"][r] - a["ticks"].get(r, 0)) * 1000 / hz / n for r in b["ticks"]}
total = sum(cpu.values())
for role in sorted(cpu):
    print(f"| {role} | {cpu[role]:.3f} | {100 * cpu[role] / total:.0f} % |")
print(f"| all | {total:.3f} | |\n")

def kind(role): return re.sub(r"-\d+$", "", role)
before = {(s["role"], s["local"], s["peer"]): s for s in a["sockets"]}
hops = defaultdict(lambda: [0, 0])
for s in b["sockets"]:
    old = before.get((s["role"], s["local"], s["peer"]), {"sent": 0, "received": 0})
    key = (kind(s["role"]), kind(s["peerRole"]))
    hops[key][0] += s["sent"] - old["sent"]
    hops[key][1] += s["received"] - old["received"]
print("| connection (measured at the first process; client: the load generator) | bytes sent per enrollment | bytes received per enrollment |\n|---|---|---|")
for (src, dst), (sent, received) in sorted(hops.items()):
    if sent or received:
        print(f"| {src} → {dst} | {sent / n:.0f} | {received / n:.0f} |")
print()

stats = {}
for line in open(f"{work}/commandstats.txt"):
    m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line.strip())
    if m:
        stats[m.group(1)] = (int(m.group(2)), int(m.group(3)))
calls = sum(c for c, _ in stats.values())
print(f"Redis commands per enrollment: {calls / n:.1f} in all, Redis CPU inside commands {sum(u for _, u in stats.values()) / n:.0f} µs.\n")
print("| command | calls per enrollment | µs per call |\n|---|---|---|")
for name, (c, u) in sorted(stats.items(), key=lambda p: -p[1][0]):
    if c / n >= 0.01:
        print(f"| {name} | {c / n:.2f} | {u / c:.1f} |")
print()
ra, rb = a["redis"], b["redis"]
net_in = int(rb["total_net_input_bytes"]) - int(ra["total_net_input_bytes"])
net_out = int(rb["total_net_output_bytes"]) - int(ra["total_net_output_bytes"])
print(f"Redis network: {net_in / n:.0f} bytes in, {net_out / n:.0f} bytes out per enrollment (INFO total_net_*_bytes).")
print(f"Redis used_memory: +{(int(rb['used_memory']) - int(ra['used_memory'])) / n:.0f} bytes per enrollment in the window "
      f"(transactions still retained included); append-only file: +{(b['aofBytes'] - a['aofBytes']) / n:.0f} bytes per enrollment.\n")

keys = [k.strip() for k in open(f"{work}/keys.txt")]
sizes = [l.strip() for l in open(f"{work}/key-bytes.txt")]
groups = defaultdict(lambda: [0, 0])
for k, s in zip(keys, sizes):
    g = re.sub(r"[0-9A-Fa-f]{16,}", "*", k)
    g = re.sub(r"(certificate|endentity|end-entity|dn)/[^/]+", r"\1/*", g)
    g = re.sub(r"/\d+(/|$)", r"/*\1", g)
    groups[g][0] += 1
    groups[g][1] += int(s) if s.isdigit() else 0
print("| Redis keys (ids as *) | keys | bytes (MEMORY USAGE) | bytes per key |\n|---|---|---|---|")
for g, (count, size) in sorted(groups.items(), key=lambda p: -p[1][1]):
    print(f"| `{g}` | {count} | {size} | {size / count:.0f} |")
EOF
echo
echo "Load: $(python3 -c "import json; r=json.load(open('$WORK/run.json')); print(f\"{r['transactionsPerSecond']:.0f} tx/s, {r['errors']} errors over {r['measuredSeconds']:.0f} s\")")."
echo "Machine: $(nproc) cores, load average at start $LOAD_AT_START; $(pinning_text). Settings: WARMUP=$WARMUP WINDOW=$WINDOW DEVICES=$DEVICES SILOS=$SILOS."
