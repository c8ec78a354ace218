#!/bin/bash
# WebSocket fan-out benchmark of gatewayd (+ chatd) against a naive Node
# `ws` broadcast server, with the same C load client (see README.md).
#
#   bench/fanout/run.sh [BIN_DIR]        (default build/rel/bin)
#
# One run builds wsload.c (cc -O2, with bench/lib), installs npm `ws` into
# bench/fanout/node_modules when it is missing, starts a private stack
# (scripts/stack.sh, temp run directory under /tmp, free port,
# LOG_LEVEL=warn), and measures, everything on 127.0.0.1:
#   rss        N idle subscribed sockets (20k, or what RLIMIT_NOFILE lets
#              gatewayd hold): gatewayd's VmRSS after minus before, per socket
#   1000x50    1000 subscribers of one room, 50 msg/s of 64-byte content
#              published through POST /api/message/send
#   5000x10    5000 subscribers, 10 msg/s
# each scenario against Enclavr (gatewayd fed by chatd), against peer.js
# (Node `ws`) and against floor.c (one send per delivery and nothing else:
# the least any server can cost here), the last two a fresh process per
# scenario. It prints deliveries/s, loss, latency p50/p99/p99.9 (receive
# time minus the time the POST was written) and of each message's first
# and last delivery, server CPU-µs per delivery from /proc/PID/stat, and
# the ratios against issue 4's goals. On exit or Ctrl-C it stops the Node
# or floor server by PID and the stack with stack.sh down; it touches no
# other process.
#
# Setup shortcuts (not measured): the synthetic users exist only as tokens
# minted by wsload with the stack's token.key (like the tests'
# token_user), and their memberships are inserted into chat.members with
# one psql statement per room instead of 20k POST /api/room/join calls.
# Their chat.presence status is set to 'invisible' so that the connects and
# disconnects of the setup do not announce presence-update to the room
# (N connects x N subscribers); the publisher (the room's owner, created
# through the API) is not subscribed.
#
# Environment knobs (defaults in brackets):
#   BENCH_DURATION [10]  BENCH_WARMUP [2]  BENCH_DRAIN [5]   (seconds)
#   BENCH_SCENARIOS ["1000x50 5000x10"]   SUBSCRIBERSxMSG_PER_S each
#   BENCH_TARGETS ["enclavr node floor"]  BENCH_RSS [1]  BENCH_RSS_SOCKETS [20000]
#   BENCH_FLOOR_THREADS [1]  BENCH_FLOOR_CPUS [the server CPU]   floor.c's writers
#   BENCH_SERVER_CPU [0]  BENCH_CLIENT_CPU [1]
#   BENCH_PIN_STACK [1]   1: the whole stack on the server CPU; 0: gatewayd only
#   BENCH_PUBS [4]        publisher keep-alive connections
#   BENCH_KEEP [0]        1: keep the temp directory (logs, raw results)
#   BENCH_PERF [0]        1: perf record the server (gatewayd, node or floor) during
#                         each measured part and print its top symbols (needs perf)
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
DRAIN=${BENCH_DRAIN:-5}
SCENARIOS=${BENCH_SCENARIOS:-1000x50 5000x10}
TARGETS=${BENCH_TARGETS:-enclavr node floor}
DO_RSS=${BENCH_RSS:-1}
RSS_SOCKETS=${BENCH_RSS_SOCKETS:-20000}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
FLOOR_THREADS=${BENCH_FLOOR_THREADS:-1}
FLOOR_CPUS=${BENCH_FLOOR_CPUS:-$SERVER_CPU}
PIN_STACK=${BENCH_PIN_STACK:-1}
PUBS=${BENCH_PUBS:-4}
KEEP=${BENCH_KEEP:-0}
PERF=${BENCH_PERF:-0}

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"		# set -euo pipefail; ROOT, HERE, PY, CC; the helpers

[ $# -le 1 ] || die "usage: bench/fanout/run.sh [BIN_DIR]"
bench_bin_dir "${1:-$ROOT/build/rel/bin}"
bench_need "apt-get install gcc nodejs npm curl util-linux" "$CC" node npm curl taskset "$PY"
bench_need_sodium
bench_need_psql
CLK_TCK=$(getconf CLK_TCK)

# 20k sockets on each side: as many descriptors as this shell may have.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

bench_tmp fanout
PEER_PID=
WSLOAD_PID=
PERF_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$WSLOAD_PID"
	stop_pid "$PEER_PID"
	stop_pid "$PERF_PID"
	bench_finish "$rc" gatewayd chatd
	exit "$rc"
}
bench_traps

# Waits until gatewayd and chatd are idle (under 3 ticks in 0.5 s, at most
# 60 s): connects and disconnects leave chatd presence calls to work through.
wait_quiet() { bench_wait_quiet 3 "gatewayd and chatd" "$GW_PID" "$CHATD_PID"; }

pin() { taskset -a -p -c "$SERVER_CPU" "$1" >/dev/null; }

# ------------------------------------------------------------------ tools

bench_build_client wsload "$HERE/wsload.c"
WSLOAD=$TMP/wsload

case " $TARGETS " in
*" floor "*)
	note "building floor"
	"$CC" -std=c17 -O2 -Wall -Wextra -o "$TMP/floor" "$HERE/floor.c" -lcrypto -lpthread ||
		die "cannot build floor.c (apt-get install libssl-dev)"
	;;
esac
case " $TARGETS " in
*" node "*)
	if [ ! -f "$HERE/node_modules/ws/package.json" ]; then
		note "installing npm ws into $HERE/node_modules"
		npm install --prefix "$HERE" --no-save --no-package-lock --no-audit --no-fund \
			ws >"$OUT/npm.log" 2>&1 || { cat "$OUT/npm.log" >&2; die "npm install ws failed"; }
	fi
	WS_VERSION=$(node -p "require('$HERE/node_modules/ws/package.json').version")
	;;
esac

# ------------------------------------------------------------------ stack

bench_stack_up -n "(RLIMIT_NOFILE $NOFILE)"
# gatewayd's connection cap must not bite at 20k sockets.
bench_gw_unlimited bench/fanout/run.sh

pin "$GW_PID"
if [ "$PIN_STACK" = 1 ]; then
	for p in "$CHATD_PID" "$AUTHD_PID" $(cat "$RUN_DIR/pids/voiced.pid") "$REDIS_PID" \
	    "$PG_PID" $(children_of "$PG_PID"); do
		pin "$p"
	done
fi

# ------------------------------------------------------------------ rooms and users

# Users are PREFIX + 12 hex digits of their index: 0 is the publisher
# (owner of the rooms), 1..N the subscribers.
bench_ids
OWNER_TOKEN=$("$WSLOAD" -k "$KEY" -u "$PREFIX" -T 0)

new_room() {	# name members: prints the room id
	local name=$1 n=$2 code id
	code=$(curl -sS -o "$OUT/room-$name.json" -w '%{http_code}' --max-time 10 -X POST \
		-H "Authorization: Bearer $OWNER_TOKEN" -H 'Content-Type: application/json' \
		--data "{\"name\":\"fanout-$TAG-$name\",\"max_users\":100000}" "$GW/api/room/create") ||
		code=000
	[ "$code" = 200 ] || [ "$code" = 201 ] ||
		die "room create: HTTP $code $(cat "$OUT/room-$name.json" 2>/dev/null)"
	id=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' \
		"$OUT/room-$name.json") || die "room create: no id"
	psql_q -c "INSERT INTO chat.members (room_id, user_id)
		SELECT '$id', ('$PREFIX' || lpad(to_hex(i), 12, '0'))::uuid
		FROM generate_series(1, $n) i ON CONFLICT DO NOTHING" >/dev/null ||
		die "cannot insert the members of $name"
	echo "$id"
}

NEED=0
for sc in $SCENARIOS; do
	n=${sc%x*}
	if [ "$n" -gt "$NEED" ]; then NEED=$n; fi
done

# The RSS run: as many sockets as gatewayd's RLIMIT_NOFILE leaves room for.
GW_NOFILE=$(awk '/^Max open files/ { print $4 }' "/proc/$GW_PID/limits")
GW_FDS=$(ls "/proc/$GW_PID/fd" | wc -l)
RSS_N=$RSS_SOCKETS
if [ $((GW_NOFILE - GW_FDS - 32)) -lt "$RSS_N" ]; then RSS_N=$((GW_NOFILE - GW_FDS - 32)); fi
if [ $((NOFILE - 64)) -lt "$RSS_N" ]; then RSS_N=$((NOFILE - 64)); fi
if [ "$DO_RSS" = 1 ]; then
	if [ "$RSS_N" -lt "$RSS_SOCKETS" ]; then
		note "rss: $RSS_N sockets, not $RSS_SOCKETS: gatewayd may hold $GW_NOFILE descriptors" \
			"(it has $GW_FDS open), this shell $NOFILE; the hard limit cannot be raised here"
	fi
	if [ "$RSS_N" -gt "$NEED" ]; then NEED=$RSS_N; fi
fi

note "users: ${PREFIX}000000000000 (publisher) and $NEED subscribers"
psql_q -c "INSERT INTO chat.presence (user_id, status)
	SELECT ('$PREFIX' || lpad(to_hex(i), 12, '0'))::uuid, 'invisible'
	FROM generate_series(0, $NEED) i
	ON CONFLICT (user_id) DO UPDATE SET status = 'invisible'" >/dev/null ||
	die "cannot set the users' presence"

declare -A ROOM
if [ "$DO_RSS" = 1 ]; then ROOM[rss]=$(new_room rss "$RSS_N"); fi
for sc in $SCENARIOS; do
	ROOM[$sc]=$(new_room "$sc" "${sc%x*}")
done

# A quick check that a subscriber gets a message: 1 socket, 1 s.
WSL=(taskset -c "$CLIENT_CPU" "$WSLOAD" -k "$KEY" -u "$PREFIX" -P "$PUBS" -D "$DRAIN")
first_sc=${SCENARIOS%% *}
"${WSL[@]}" -q -p "$GW_PORT" -r "${ROOM[$first_sc]}" -n 1 -R 10 -w 0 -d 1 \
	>"$OUT/check.txt" 2>"$OUT/check.err" || { cat "$OUT/check.err" >&2; die "pre-flight failed"; }
[ "$(kv loss "$OUT/check.txt")" = 0 ] && [ "$(kv received "$OUT/check.txt")" -gt 0 ] ||
	{ cat "$OUT/check.txt" >&2; die "pre-flight: the subscriber did not get every message"; }

bench_log_mark start gatewayd chatd
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ rss

if [ "$DO_RSS" = 1 ]; then
	wait_quiet
	note "rss: $RSS_N idle subscribed sockets"
	"${WSL[@]}" -m idle -p "$GW_PORT" -r "${ROOM[rss]}" -n "$RSS_N" -M "$GW_PID" -S 3 \
		>"$OUT/rss.txt" 2>"$OUT/rss.err" &
	WSLOAD_PID=$!
	wait "$WSLOAD_PID" || { cat "$OUT/rss.err" >&2; die "wsload (rss) failed"; }
	WSLOAD_PID=
	cat "$OUT/rss.err" >&2
	wait_quiet		# gatewayd closes the sockets, chatd hears of it
fi

# ------------------------------------------------------------------ scenarios

# Starts an anchor server (node peer.js, or floor) on port, pinned to cpus.
start_anchor() {	# name port cpus command...
	local name=$1 port=$2 cpus=$3
	shift 3
	taskset -c "$cpus" "$@" >"$OUT/$name.log" 2>&1 &
	PEER_PID=$!
	for _ in $(seq 100); do
		"$PY" -c 'import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(("127.0.0.1",int(sys.argv[1]))))' \
			"$port" 2>/dev/null && return 0
		kill -0 "$PEER_PID" 2>/dev/null || { cat "$OUT/$name.log" >&2; die "$name exited"; }
		sleep 0.1
	done
	die "$name did not listen on $port"
}

RUNS=()
for sc in $SCENARIOS; do
	subs=${sc%x*} rate=${sc#*x}
	for target in $TARGETS; do
		name=$target-$sc
		args=(-r "${ROOM[$sc]}" -n "$subs" -R "$rate" -w "$WARMUP" -d "$DURATION")
		case $target in
		enclavr)
			wait_quiet
			PG_PIDS=$(commas "$PG_PID" $(children_of "$PG_PID"))
			note "$name: $subs subscribers, $rate msg/s, ${WARMUP}s + ${DURATION}s"
			"${WSL[@]}" -p "$GW_PORT" "${args[@]}" -c "gatewayd=$GW_PID" -c "chatd=$CHATD_PID" \
				-c "pg=$PG_PIDS" -c "redis=$REDIS_PID" \
				>"$OUT/$name.txt" 2>"$OUT/$name.err" &
			;;
		node | floor)
			port=$(free_port)
			if [ "$target" = node ]; then
				start_anchor node "$port" "$SERVER_CPU" node "$HERE/peer.js" "$port"
			else
				start_anchor floor "$port" "$FLOOR_CPUS" "$TMP/floor" "$port" "$FLOOR_THREADS"
			fi
			note "$name: $subs subscribers, $rate msg/s, ${WARMUP}s + ${DURATION}s (pid $PEER_PID)"
			"${WSL[@]}" -p "$port" "${args[@]}" -c "$target=$PEER_PID" \
				>"$OUT/$name.txt" 2>"$OUT/$name.err" &
			;;
		*) die "unknown target $target" ;;
		esac
		WSLOAD_PID=$!
		if [ "$PERF" = 1 ]; then
			perf_pid=$GW_PID
			[ "$target" = enclavr ] || perf_pid=$PEER_PID
			# from the start of the measured part (wsload says so)
			while kill -0 "$WSLOAD_PID" 2>/dev/null &&
			    ! grep -q 'measuring' "$OUT/$name.err"; do sleep 0.1; done
			perf record -q -g -p "$perf_pid" -o "$OUT/$name.perf" -- sleep "$DURATION" \
				>/dev/null 2>&1 &
			PERF_PID=$!
		fi
		wait "$WSLOAD_PID" || { cat "$OUT/$name.err" >&2; die "wsload ($name) failed"; }
		WSLOAD_PID=
		if [ -n "$PERF_PID" ]; then
			wait "$PERF_PID" || true
			PERF_PID=
			perf report -i "$OUT/$name.perf" --no-children --sort symbol --stdio 2>/dev/null |
				grep -E '^ +[0-9.]+%' | head -n 30 >"$OUT/$name.perf.txt" || true
		fi
		if [ "$target" != enclavr ]; then
			stop_pid "$PEER_PID"
			PEER_PID=
		fi
		RUNS+=("$name")
		sleep 1
	done
done

bench_log_mark end gatewayd chatd
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report

echo
echo "WebSocket fan-out, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs; servers on CPU $SERVER_CPU" \
	"($( [ "$PIN_STACK" = 1 ] && echo "whole stack" || echo "gatewayd only")), wsload on CPU $CLIENT_CPU;" \
	"load average $LOAD0 before, $LOAD1 after"
echo "one room, 64-byte messages via POST /api/message/send on $PUBS keep-alive connections;" \
	"${WARMUP}s warm-up + ${DURATION}s measured; node = peer.js on ws ${WS_VERSION:-?};" \
	"floor = floor.c, $FLOOR_THREADS writer thread(s) on CPU $FLOOR_CPUS"
echo
printf '%-16s %6s %6s %9s %8s %8s %8s %8s %8s | %7s %8s %7s %7s %7s | %4s %7s %4s\n' \
	run subs msg/s deliv/s loss p50_ms p99_ms p999_ms max_ms \
	gw_us chatd_us srv_us srv_sys pg_us srv% post99 wsl%
declare -A SRV_US SRV_USER P99
for name in "${RUNS[@]}"; do
	f=$OUT/$name.txt
	case $name in
	enclavr-*)
		gw=$(kv cpu_gatewayd_us "$f"); ch=$(kv cpu_chatd_us "$f"); pg=$(kv cpu_pg_us "$f")
		srv=$(awk -v a="$gw" -v b="$ch" 'BEGIN { printf "%.3f", a + b }')
		sys=$(awk -v a="$(kv cpu_gatewayd_sys_us "$f")" -v b="$(kv cpu_chatd_sys_us "$f")" \
			'BEGIN { printf "%.3f", a + b }')
		pct=$(awk -v a="$(kv cpu_gatewayd_pct "$f")" -v b="$(kv cpu_chatd_pct "$f")" \
			-v c="$(kv cpu_pg_pct "$f")" 'BEGIN { printf "%.0f", a + b + c }')
		gw=$(printf '%.3f' "$gw"); ch=$(printf '%.3f' "$ch"); pg=$(printf '%.3f' "$pg")
		;;
	node-* | floor-*)
		t=${name%%-*}
		srv=$(printf '%.3f' "$(kv "cpu_${t}_us" "$f")"); gw=-; ch=-; pg=-
		sys=$(printf '%.3f' "$(kv "cpu_${t}_sys_us" "$f")")
		pct=$(printf '%.0f' "$(kv "cpu_${t}_pct" "$f")")
		;;
	esac
	SRV_US[$name]=$srv
	SRV_USER[$name]=$(awk -v a="$srv" -v b="$sys" 'BEGIN { printf "%.3f", a - b }')
	P99[$name]=$(kv p99_ms "$f")
	printf '%-16s %6s %6s %9s %8s %8s %8s %8s %8s | %7s %8s %7s %7s %7s | %4s %7s %4s\n' \
		"$name" "$(kv live "$f")" "$(kv rate "$f")" "$(kv deliv_per_s "$f")" \
		"$(kv loss "$f")" "$(kv p50_ms "$f")" "${P99[$name]}" "$(kv p999_ms "$f")" \
		"$(kv max_ms "$f")" "$gw" "$ch" "$srv" "$sys" "$pg" "$pct" \
		"$(kv post_p99_ms "$f")" "$(printf '%.0f' "$(kv client_cpu_pct "$f")")"
done
echo
echo "columns: deliv/s = deliveries of the measured messages / time to the last one; loss ="
echo "  (messages answered 2xx x subscribers) - deliveries, over the whole run; latency = receive"
echo "  time - time the POST was written (same clock); *_us = CPU-µs per delivery from"
echo "  /proc/PID/stat over the measured part and its drain (1 tick = $((1000 / CLK_TCK)) ms);"
echo "  srv_us = gatewayd + chatd (Enclavr) or the node process, srv_sys = its part in the"
echo "  kernel (a loopback TCP send includes the receiver's TCP processing); pg_us = PostgreSQL, for"
echo "  information; srv% = server CPU over the window (gatewayd+chatd+PostgreSQL, or node);"
echo "  post99 = p99 ms of the POSTs; wsl% = wsload's CPU (above ~80% the run is client-bound)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }'; }
verdict() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else if (v + 0 <= g + 0) print "ok"; else printf "MISSED by %.2fx\n", v / g }'; }
echo
echo "goals (issue 4):"
if [ "$DO_RSS" = 1 ]; then
	per=$(kv rss_per_socket_kib "$OUT/rss.txt")
	echo "  gatewayd RSS per idle subscribed socket: $per KiB at $(kv live "$OUT/rss.txt") sockets" \
		"(VmRSS $(kv rss0_kib "$OUT/rss.txt") -> $(kv rss1_kib "$OUT/rss.txt") KiB);" \
		"goal <= 8 KiB: $(verdict "$per" 8)"
fi
for sc in $SCENARIOS; do
	e=enclavr-$sc n=node-$sc
	if [ -n "${SRV_US[$e]:-}" ] && [ -n "${SRV_US[$n]:-}" ]; then
		r=$(ratio "${SRV_US[$e]}" "${SRV_US[$n]}")
		echo "  $sc CPU-µs per delivery, Enclavr / node: ${SRV_US[$e]} / ${SRV_US[$n]} = $r;" \
			"goal <= 0.2: $(verdict "$r" 0.2)"
		echo "  $sc   (user space only, for information: ${SRV_USER[$e]} / ${SRV_USER[$n]} =" \
			"$(ratio "${SRV_USER[$e]}" "${SRV_USER[$n]}"))"
	fi
	f=floor-$sc
	if [ -n "${SRV_US[$f]:-}" ] && [ -n "${SRV_US[$n]:-}" ]; then
		echo "  $sc   (the floor, one write per delivery and nothing else: ${SRV_US[$f]} / ${SRV_US[$n]} =" \
			"$(ratio "${SRV_US[$f]}" "${SRV_US[$n]}") of node; p99 ${P99[$f]} ms)"
	fi
	if [ -n "${P99[$e]:-}" ]; then
		case $sc in 1000x50) goal=10 ;; 5000x10) goal=30 ;; *) goal= ;; esac
		[ -z "$goal" ] || echo "  $sc p99: ${P99[$e]} ms; goal <= $goal ms: $(verdict "${P99[$e]}" "$goal")"
	fi
done

for name in "${RUNS[@]}"; do
	f=$OUT/$name.txt
	extra=
	for k in post_err pub_reconnects skipped late closed close_1013 sub_retries unknown; do
		v=$(kv $k "$f")
		if [ -n "$v" ] && [ "$v" != 0 ]; then extra="$extra $k=$v"; fi
	done
	if [ "$(kv first_error "$f")" != none ]; then extra="$extra first_error=$(kv first_error "$f")"; fi
	echo "$name: a message's first delivery p50/p99 $(kv first_p50_ms "$f") / $(kv first_p99_ms "$f") ms," \
		"its last $(kv last_p50_ms "$f") / $(kv last_p99_ms "$f") ms$extra"
done
bench_log_report "during the runs" gatewayd chatd
for name in "${RUNS[@]}"; do
	if [ -s "$OUT/$name.perf.txt" ]; then
		echo
		echo "$name: the server's top symbols (perf, self time; gatewayd for enclavr):"
		cat "$OUT/$name.perf.txt"
	fi
done
echo
echo "raw wsload results: BENCH_KEEP=1 keeps them in the temp directory"
