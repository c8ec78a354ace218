#!/bin/bash
# HTTP benchmark of gatewayd against nginx on the same machine (see README.md).
#
#   bench/http/run.sh BIN_DIR        (make bench passes build/rel/bin)
#
# One run starts a private stack (scripts/stack.sh, temp run directory under
# /tmp, free port, LOG_LEVEL=warn) and a private nginx serving the same web/
# directory, pins the servers to one CPU and wrk to the other, and measures:
#   gw static     GET  /index.html                     gatewayd's file cache
#   gw forward    POST /api/health/authd/echo          token check + IPC round
#                                                     trip to authd, no database
#   gw db         GET  /api/health/authd               as above plus one
#                                                     PostgreSQL query (for info)
#   nginx static  GET  /index.html                     the anchor
# It prints requests/s, p50/p99 latency, errors, the servers' CPU time per
# run (from /proc/PID/stat) and ratios against nginx. Everything listens on
# 127.0.0.1 only; on exit or Ctrl-C it stops nginx by PID and the stack with
# stack.sh down, and touches no other process.
#
# Environment knobs (defaults in brackets):
#   BENCH_DURATION [10s]  BENCH_WARMUP [2s]  BENCH_CONNS [50]  BENCH_THREADS [1]
#   BENCH_SERVER_CPU [0]  BENCH_CLIENT_CPU [1]
#   BENCH_PIN_STACK [1]   1: the whole stack (gatewayd, authd, chatd, voiced,
#                         Redis, PostgreSQL) on the server CPU; 0: gatewayd only
#   BENCH_KEEP [0]        1: keep the temp directory (logs, configs, wrk output)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/http
NGINX=/usr/sbin/nginx
PY=/usr/bin/python3

DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
CONNS=${BENCH_CONNS:-50}
THREADS=${BENCH_THREADS:-1}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
PIN_STACK=${BENCH_PIN_STACK:-1}
KEEP=${BENCH_KEEP:-0}

# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"

[ $# = 1 ] || die "usage: bench/http/run.sh BIN_DIR"
[ -d "$1" ] || die "no directory $1"
BIN_DIR=$(cd "$1" && pwd)
for b in gatewayd authd chatd voiced; do
	[ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing (run make)"
done
for c in wrk taskset curl "$NGINX" "$PY"; do
	command -v "$c" >/dev/null || die "$c is missing (apt-get install wrk nginx-light util-linux curl)"
done
"$PY" -c 'import nacl.signing' 2>/dev/null || die "$PY has no nacl module (apt-get install python3-nacl)"
[ -f "$ROOT/web/index.html" ] || die "no $ROOT/web/index.html"
CLK_TCK=$(getconf CLK_TCK)

TMP=$(mktemp -d /tmp/enclavr-bench.XXXXXX)
# The stack's PostgreSQL runs as the postgres user and needs to reach RUN_DIR.
chmod 755 "$TMP"
RUN_DIR=$TMP/stack
NGX_DIR=$TMP/nginx
OUT=$TMP/out
mkdir -p "$NGX_DIR" "$OUT"
NGX_PID=
STACK_STARTED=0

stop_nginx() {
	[ -n "$NGX_PID" ] || return 0
	if kill -0 "$NGX_PID" 2>/dev/null; then
		kill -TERM "$NGX_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$NGX_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$NGX_PID" 2>/dev/null && kill -KILL "$NGX_PID" 2>/dev/null
	fi
	wait "$NGX_PID" 2>/dev/null || true
	NGX_PID=
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_nginx
	if [ "$STACK_STARTED" = 1 ] && [ -d "$RUN_DIR" ]; then
		if [ "$rc" != 0 ] && [ -f "$RUN_DIR/log/gatewayd.log" ]; then
			note "last lines of gatewayd.log:"
			tail -n 20 "$RUN_DIR/log/gatewayd.log" >&2 || true
		fi
		# --purge also removes the cluster when stack.sh put it in /var/tmp.
		local purge=(--purge)
		[ "$KEEP" = 1 ] && purge=()
		"$ROOT/scripts/stack.sh" down "$RUN_DIR" "${purge[@]}" >/dev/null 2>&1 ||
			note "stack.sh down $RUN_DIR failed"
	fi
	if [ "$KEEP" = 1 ]; then
		note "kept $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'note interrupted; exit 130' INT
trap 'exit 143' TERM



# This shell's waited-for children's CPU (cutime+cstime): wrk's CPU time.
child_ticks() {
	local f
	f=$(cat /proc/$$/stat)
	f=${f##*) }
	set -- $f
	echo $((${14} + ${15}))
}

children_of() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' | tr '\n' ' '; }

pin() {	# pin every thread of a process to the server CPU
	taskset -a -p -c "$SERVER_CPU" "$1" >/dev/null
}

# ------------------------------------------------------------------ stack

GW_PORT=$(free_port)
note "starting the stack in $RUN_DIR on 127.0.0.1:$GW_PORT"
STACK_STARTED=1
LOG_LEVEL=warn "$ROOT/scripts/stack.sh" up "$RUN_DIR" "$GW_PORT" "$BIN_DIR" >"$OUT/stack-up.log" 2>&1 ||
	{ cat "$OUT/stack-up.log" >&2; die "stack.sh up failed"; }
GW_PID=$(cat "$RUN_DIR/pids/gatewayd.pid")
AUTHD_PID=$(cat "$RUN_DIR/pids/authd.pid")
PG_PID=$(head -n1 "$RUN_DIR/pg/postmaster.pid")
PG_PIDS="$PG_PID $(children_of "$PG_PID")"
pin "$GW_PID"
if [ "$PIN_STACK" = 1 ]; then
	for p in "$AUTHD_PID" $(cat "$RUN_DIR/pids/chatd.pid" "$RUN_DIR/pids/voiced.pid" \
	    "$RUN_DIR/pids/redis.pid") $PG_PIDS; do
		pin "$p"
	done
fi

# ------------------------------------------------------------------ nginx

NGX_PORT=$(free_port)
NGX_USER=
if [ "$(id -u)" = 0 ]; then
	if runuser -u www-data -- test -r "$ROOT/web/index.html" 2>/dev/null; then
		NGX_USER="user www-data;"
	else
		NGX_USER="user root;"
	fi
fi
cat >"$NGX_DIR/nginx.conf" <<EOF
# Generated by bench/http/run.sh.
$NGX_USER
worker_processes 1;
daemon off;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log warn;
events { worker_connections 1024; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 65;
	keepalive_requests 1000000;
	client_body_temp_path $NGX_DIR/body;
	proxy_temp_path $NGX_DIR/proxy;
	fastcgi_temp_path $NGX_DIR/fastcgi;
	uwsgi_temp_path $NGX_DIR/uwsgi;
	scgi_temp_path $NGX_DIR/scgi;
	server {
		listen 127.0.0.1:$NGX_PORT;
		root $ROOT/web;
		location / { }
	}
}
EOF
"$NGINX" -t -q -e "$NGX_DIR/error.log" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" ||
	{ cat "$NGX_DIR/error.log" >&2; die "nginx rejected its config"; }
taskset -c "$SERVER_CPU" "$NGINX" -e "$NGX_DIR/error.log" -p "$NGX_DIR" \
	-c "$NGX_DIR/nginx.conf" </dev/null >"$NGX_DIR/stdout.log" 2>&1 &
NGX_PID=$!
for _ in $(seq 50); do
	curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$NGX_PORT/index.html" 2>/dev/null && break
	kill -0 "$NGX_PID" 2>/dev/null || { cat "$NGX_DIR/error.log" >&2; die "nginx exited"; }
	sleep 0.1
done
NGX_PIDS="$NGX_PID $(children_of "$NGX_PID")"
note "nginx (pid $NGX_PID, workers $(children_of "$NGX_PID")) on 127.0.0.1:$NGX_PORT"

# ------------------------------------------------------------------ checks

export BENCH_TOKEN
BENCH_TOKEN=$("$PY" - "$RUN_DIR/etc/token.key" <<'PYEOF'
import base64, json, sys, time, uuid
from nacl.signing import SigningKey
raw = base64.b64decode(open(sys.argv[1]).read().strip())
assert len(raw) == 64, "token.key must hold 64 bytes (seed || public key)"
sk = SigningKey(raw[:32])
assert bytes(sk.verify_key) == raw[32:], "token.key: public key does not match seed"
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def seg(o): return b64(json.dumps(o, separators=(",", ":")).encode())
now = int(time.time())
signed = seg({"alg": "EdDSA", "typ": "JWT"}) + "." + seg({"sub": str(uuid.uuid4()),
    "sid": str(uuid.uuid4()), "adm": False, "iat": now, "exp": now + 3600})
print(signed + "." + b64(sk.sign(signed.encode()).signature))
PYEOF
)

GW=http://127.0.0.1:$GW_PORT
NG=http://127.0.0.1:$NGX_PORT
ECHO_BODY='{"bench":"wrk","n":1}'
check() {	# name expected-status curl-args...
	local name=$1 want=$2 code
	shift 2
	code=$(curl -sS -o "$OUT/check-$name.body" -D "$OUT/check-$name.hdr" \
		-w '%{http_code}' --max-time 5 "$@") || code=000
	if [ "$code" != "$want" ]; then
		note "$name: HTTP $code, expected $want; body:"
		cat "$OUT/check-$name.body" >&2 2>/dev/null; echo >&2
		die "pre-flight check $name failed"
	fi
}
check gw-static 200 "$GW/index.html"
check ng-static 200 "$NG/index.html"
cmp -s "$OUT/check-gw-static.body" "$OUT/check-ng-static.body" ||
	die "gatewayd and nginx serve different /index.html bodies"
check gw-forward 200 -X POST -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $BENCH_TOKEN" --data "$ECHO_BODY" "$GW/api/health/authd/echo"
grep -q '"bench"' "$OUT/check-gw-forward.body" || die "echo did not return the body"
check gw-db 200 "$GW/api/health/authd"

# ------------------------------------------------------------------ runs

wrk_run() {	# wrk-args... ; output to stdout
	taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" "$@"
}

GW_LOG_LINES0=$(wc -l <"$RUN_DIR/log/gatewayd.log")
RUN_NAMES=()
declare -A R

# name url [wrk args...]
bench() {
	local name=$1 url=$2 t0 g0 a0 p0 n0 c0 t1 g1 a1 p1 n1 c1
	shift 2
	note "$name: warm-up $WARMUP, then $DURATION ($url)"
	wrk_run -d"$WARMUP" "$@" "$url" >"$OUT/$name.warmup" 2>&1 || true
	# Re-read PostgreSQL's children: a warm-up may have opened connections.
	PG_PIDS="$PG_PID $(children_of "$PG_PID")"
	t0=$(date +%s%N)
	g0=$(cpu_ticks "$GW_PID"); a0=$(cpu_ticks "$AUTHD_PID")
	p0=$(cpu_ticks $PG_PIDS); n0=$(cpu_ticks $NGX_PIDS); c0=$(child_ticks)
	wrk_run -d"$DURATION" --latency "$@" "$url" >"$OUT/$name.wrk" 2>&1 ||
		{ cat "$OUT/$name.wrk" >&2; die "wrk failed for $name"; }
	g1=$(cpu_ticks "$GW_PID"); a1=$(cpu_ticks "$AUTHD_PID")
	p1=$(cpu_ticks $PG_PIDS); n1=$(cpu_ticks $NGX_PIDS); c1=$(child_ticks)
	t1=$(date +%s%N)
	RUN_NAMES+=("$name")
	R[$name.gw]=$((g1 - g0)); R[$name.authd]=$((a1 - a0)); R[$name.pg]=$((p1 - p0))
	R[$name.ngx]=$((n1 - n0)); R[$name.wrk]=$((c1 - c0)); R[$name.ns]=$((t1 - t0))
	R[$name.url]=$url
}

bench gw-static "$GW/index.html"
bench gw-forward "$GW/api/health/authd/echo" -s "$HERE/post_echo.lua"
bench gw-db "$GW/api/health/authd"
bench nginx-static "$NG/index.html"

GW_LOG_LINES1=$(wc -l <"$RUN_DIR/log/gatewayd.log")

# ------------------------------------------------------------------ report

echo
echo "gatewayd vs nginx, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs; servers on CPU $SERVER_CPU" \
	"($( [ "$PIN_STACK" = 1 ] && echo "whole stack" || echo "gatewayd only")), wrk on CPU $CLIENT_CPU"
echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency after a $WARMUP warm-up; CPU from /proc/PID/stat" \
	"(1 tick = $((1000 / CLK_TCK)) ms)"
echo
printf '%-13s %9s %9s %8s %8s %7s %7s | %7s %8s %7s %8s %7s %8s %7s %8s | %5s %5s\n' \
	target requests req/s p50_ms p99_ms non2xx sockerr \
	gw_s gw_us/r authd_s au_us/r pg_s pg_us/r nginx_s ngx_us/r srv% wrk%
declare -A RPS CPUR
for name in "${RUN_NAMES[@]}"; do
	read -r req rps p50 p99 non2xx se < <(wrk_parse "$OUT/$name.wrk" 0)
	RPS[$name]=$rps
	line=$(awk -v req="$req" -v hz="$CLK_TCK" -v ns="${R[$name.ns]}" \
	    -v gw="${R[$name.gw]}" -v au="${R[$name.authd]}" -v pg="${R[$name.pg]}" \
	    -v ng="${R[$name.ngx]}" -v wk="${R[$name.wrk]}" 'BEGIN {
		n = req > 0 ? req : 1
		printf "%7.2f %8.2f %7.2f %8.2f %7.2f %8.2f %7.2f %8.2f | %5.0f %5.0f",
		    gw/hz, gw/hz*1e6/n, au/hz, au/hz*1e6/n, pg/hz, pg/hz*1e6/n,
		    ng/hz, ng/hz*1e6/n, (gw+au+pg+ng)/hz/(ns/1e9)*100, wk/hz/(ns/1e9)*100
	}')
	case $name in
	nginx-*) CPUR[$name]=$(awk -v t="${R[$name.ngx]}" -v n="$req" 'BEGIN { print (n ? t/n : 0) }') ;;
	*) CPUR[$name]=$(awk -v t="${R[$name.gw]}" -v n="$req" 'BEGIN { print (n ? t/n : 0) }') ;;
	esac
	printf '%-13s %9s %9s %8s %8s %7s %7s | %s\n' "$name" "$req" "$rps" "$p50" "$p99" \
		"$non2xx" "$se" "$line"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
echo
echo "throughput vs nginx static:      static $(ratio "${RPS[gw-static]}" "${RPS[nginx-static]}")" \
	"  forwarded $(ratio "${RPS[gw-forward]}" "${RPS[nginx-static]}")" \
	"  db $(ratio "${RPS[gw-db]}" "${RPS[nginx-static]}")"
echo "server CPU per request vs nginx: static $(ratio "${CPUR[gw-static]}" "${CPUR[nginx-static]}")" \
	"  forwarded $(ratio "${CPUR[gw-forward]}" "${CPUR[nginx-static]}")" \
	"  db $(ratio "${CPUR[gw-db]}" "${CPUR[nginx-static]}")   (gatewayd's own CPU only; >1 = costlier)"
echo "columns: *_s = CPU seconds during the measured run, *_us/r = CPU microseconds per request;"
echo "         srv% = gatewayd+authd+PostgreSQL+nginx CPU over wall time (well under 100% with the"
echo "         servers on one CPU: something else took that CPU, so req/s is not comparable);"
echo "         wrk% = wrk's CPU (above ~80% the run is client-bound)"

if [ "$GW_LOG_LINES1" -gt "$GW_LOG_LINES0" ]; then
	echo
	echo "gatewayd logged $((GW_LOG_LINES1 - GW_LOG_LINES0)) line(s) at warn or above during the runs; the last ones:"
	sed -n "$((GW_LOG_LINES0 + 1)),\$p" "$RUN_DIR/log/gatewayd.log" | tail -n 10
fi
for name in "${RUN_NAMES[@]}"; do
	if grep -q -e 'Non-2xx' -e 'Socket errors' "$OUT/$name.wrk"; then
		echo
		echo "$name: wrk reported errors:"
		grep -e 'Non-2xx' -e 'Socket errors' "$OUT/$name.wrk"
	fi
done
