#!/usr/bin/env bash
# Local multi-process cluster: redis-server (AOF, appendfsync always) + N silos (Node__Mode=Cluster) + M standalone
# gateways + HAProxy round-robin in front (no sticky sessions), all on free loopback ports.
#
#   deploy/local/cluster.sh up       [-s SILOS] [-g GATEWAYS] [-d STATE_DIR] [--no-build]
#   deploy/local/cluster.sh status   [-d STATE_DIR]
#   deploy/local/cluster.sh down     [-d STATE_DIR]
#
# Environment (same names as deploy/compose.yaml and deploy/k8s): SILOS (2), GATEWAYS (2), STATE_DIR (./cluster-state),
# LB_PORT (free port), Pki__Passphrase, Cmp__Aliases__ra__Secret, Admin__Tokens__0 ... are passed to the processes.
# The state dir holds pids/, logs/, redis/ (AOF), shared/pki (CA keys, created by the first silo) and haproxy.cfg.
# Every silo and gateway has a device port (CMP, CRL, OCSP, health; behind HAProxy) and its own management port (admin
# API, /metrics, dashboard; pids/NAME.mgmt, shown by `status`), both on free loopback ports.
# `down` stops exactly the processes whose PID files it wrote, and only if they still run the command it started.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cmd="${1:-}"; shift || true
SILOS="${SILOS:-2}"; GATEWAYS="${GATEWAYS:-2}"; STATE_DIR="${STATE_DIR:-$repo/cluster-state}"; BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    -s|--silos) SILOS="$2"; shift 2 ;;
    -g|--gateways) GATEWAYS="$2"; shift 2 ;;
    -d|--state-dir) STATE_DIR="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
STATE_DIR="$(mkdir -p "$STATE_DIR" && cd "$STATE_DIR" && pwd)"
pids="$STATE_DIR/pids"; logs="$STATE_DIR/logs"
SILO_DLL="$repo/silo/bin/Release/net10.0/CmpCluster.Silo.dll"
GATEWAY_DLL="$repo/gateway/bin/Release/net10.0/CmpCluster.Gateway.dll"

need() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || { echo "$1 is not installed: sudo apt-get update && sudo apt-get install -y $2" >&2; exit 1; }
}
free_ports() { # N distinct free loopback ports
  python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind(("127.0.0.1",0)) for x in s]; print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}
alive() { # name: true when the PID file's process still runs what we started
  local f="$pids/$1.pid"; [ -f "$f" ] || return 1
  local pid; pid="$(cat "$f")"; [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$(cat "$pids/$1.match")"
}
start() { # name match-string command...
  local name="$1" match="$2"; shift 2
  nohup "$@" > "$logs/$name.log" 2>&1 &
  echo $! > "$pids/$name.pid"; echo "$match" > "$pids/$name.match"
}
wait_ready() { # name url
  for _ in $(seq 1 240); do
    curl -fsS -m 2 "$2" >/dev/null 2>&1 && return 0
    alive "$1" || { echo "$1 exited; see $logs/$1.log" >&2; tail -n 20 "$logs/$1.log" >&2; return 1; }
    sleep 0.5
  done
  echo "$1 not ready at $2 after 120 s" >&2; return 1
}

up() {
  need redis-server redis-server; need haproxy haproxy; need curl curl
  if ls "$pids"/*.pid >/dev/null 2>&1; then echo "already up (state in $STATE_DIR); run down first" >&2; exit 1; fi
  mkdir -p "$pids" "$logs" "$STATE_DIR/redis" "$STATE_DIR/shared"
  if [ "$BUILD" = 1 ]; then dotnet build "$repo/Cluster.sln" -c Release -v q -nologo >/dev/null; fi
  read -r redis_port lb_port < <(free_ports 2); lb_port="${LB_PORT:-$lb_port}"
  start redis "redis-server 127.0.0.1:$redis_port" redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$STATE_DIR/redis" \
    --appendonly yes --appendfsync always --save "" --daemonize no
  for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  # Mutual TLS between silos and from gateways to silos: one cluster CA, a certificate for the silos and one for the gateways.
  bash "$repo/deploy/local/cluster-tls.sh" "$STATE_DIR/tls" silo gateway >/dev/null
  export Node__Mode=Cluster Redis__ConnectionString="127.0.0.1:$redis_port" Node__DataDirectory="$STATE_DIR/shared" Dashboard__Enabled=false
  export Cluster__Tls__TrustedCaPath="$STATE_DIR/tls/cluster-ca.pem"
  echo "$redis_port" > "$STATE_DIR/redis.port"
  local i silo_http=() gw_http=()
  for i in $(seq 1 "$SILOS"); do
    read -r http sp gp mgmt < <(free_ports 4)
    start "silo-$i" "Node:SiloPort=$sp" dotnet "$SILO_DLL" --urls "http://127.0.0.1:$http" --Management:Urls="http://127.0.0.1:$mgmt" \
      --Node:SiloPort="$sp" --Node:GatewayPort="$gp" --Tcp:Enabled=false \
      --Cluster:Tls:CertificatePath="$STATE_DIR/tls/silo.pem" --Cluster:Tls:KeyPath="$STATE_DIR/tls/silo.key.pem"
    silo_http+=("$http"); echo "http://127.0.0.1:$http" > "$pids/silo-$i.url"; echo "http://127.0.0.1:$mgmt" > "$pids/silo-$i.mgmt"
  done
  for i in $(seq 1 "$SILOS"); do wait_ready "silo-$i" "http://127.0.0.1:${silo_http[$((i-1))]}/readyz"; done
  for i in $(seq 1 "$GATEWAYS"); do
    read -r http mgmt < <(free_ports 2)
    # HAProxy (127.0.0.1) sends X-Forwarded-For: the per-address rate limit then counts the client behind it.
    start "gateway-$i" "urls http://127.0.0.1:$http" dotnet "$GATEWAY_DLL" --urls "http://127.0.0.1:$http" --Management:Urls="http://127.0.0.1:$mgmt" \
      --RateLimits:KnownProxies:0=127.0.0.1 \
      --Cluster:Tls:CertificatePath="$STATE_DIR/tls/gateway.pem" --Cluster:Tls:KeyPath="$STATE_DIR/tls/gateway.key.pem"
    gw_http+=("$http"); echo "http://127.0.0.1:$http" > "$pids/gateway-$i.url"; echo "http://127.0.0.1:$mgmt" > "$pids/gateway-$i.mgmt"
  done
  for i in $(seq 1 "$GATEWAYS"); do wait_ready "gateway-$i" "http://127.0.0.1:${gw_http[$((i-1))]}/readyz"; done
  {
    printf 'global\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 60s\n  timeout server 60s\n'
    printf '  retries 3\n  option redispatch\n  option http-keep-alive\n  option forwardfor\n'
    printf 'frontend cmp\n  bind 127.0.0.1:%s\n  default_backend gateways\n' "$lb_port"
    printf 'backend gateways\n  balance roundrobin\n  option httpchk GET /readyz\n'
    for i in $(seq 1 "$GATEWAYS"); do printf '  server g%s 127.0.0.1:%s check inter 1s fall 2 rise 2\n' "$i" "${gw_http[$((i-1))]}"; done
  } > "$STATE_DIR/haproxy.cfg"
  local haproxy; haproxy="$(command -v haproxy || echo /usr/sbin/haproxy)"
  start haproxy "$STATE_DIR/haproxy.cfg" "$haproxy" -f "$STATE_DIR/haproxy.cfg" -db
  echo "http://127.0.0.1:$lb_port" > "$pids/haproxy.url"
  wait_ready haproxy "http://127.0.0.1:$lb_port/readyz"
  echo "cluster up: $SILOS silo(s), $GATEWAYS gateway(s), redis 127.0.0.1:$redis_port, state $STATE_DIR"
  echo "CMP: http://127.0.0.1:$lb_port/.well-known/cmp/p/ra   trust anchor: $STATE_DIR/shared/pki/root-ca.pem"
  echo "admin API, /metrics: each process's management URL (gateway-1: $(cat "$pids/gateway-1.mgmt" 2>/dev/null || echo none); see status)"
}

status() {
  [ -d "$pids" ] || { echo "no cluster state in $STATE_DIR"; exit 1; }
  local f name url mgmt ready
  for f in "$pids"/*.pid; do
    [ -e "$f" ] || continue
    name="$(basename "$f" .pid)"; url="$(cat "$pids/$name.url" 2>/dev/null || true)"; mgmt="$(cat "$pids/$name.mgmt" 2>/dev/null || true)"; ready="-"
    if [ -n "$url" ]; then ready="$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$url/readyz" || true)"; fi
    if alive "$name"; then state=running; else state=stopped; fi
    printf '%-12s pid %-8s %-8s readyz=%-4s %s%s\n' "$name" "$(cat "$f")" "$state" "$ready" "$url" "${mgmt:+  management $mgmt}"
  done
}

down() {
  [ -d "$pids" ] || { echo "nothing to stop in $STATE_DIR"; return 0; }
  local order=(haproxy) f name pid
  for f in "$pids"/gateway-*.pid; do [ -e "$f" ] && order+=("$(basename "$f" .pid)"); done
  for f in "$pids"/silo-*.pid; do [ -e "$f" ] && order+=("$(basename "$f" .pid)"); done
  order+=(redis)
  for name in "${order[@]}"; do
    [ -f "$pids/$name.pid" ] || continue
    pid="$(cat "$pids/$name.pid")"
    if alive "$name"; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "stopped $name (pid $pid)"
    fi
    rm -f "$pids/$name.pid" "$pids/$name.match" "$pids/$name.url" "$pids/$name.mgmt"
  done
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status [-s SILOS] [-g GATEWAYS] [-d STATE_DIR] [--no-build]" >&2; exit 2 ;;
esac
