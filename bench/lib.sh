# Helpers shared by the benchmark scripts. Sourced before anything else
# but the knobs: strict mode, ROOT, HERE (the script's directory), and PY
# and CC unless already set.

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-/usr/bin/python3}
CC=${CC:-cc}

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Sum of utime+stime, in clock ticks, of the given PIDs (gone ones count 0).
cpu_ticks() {
	local sum=0 pid f
	for pid in "$@"; do
		f=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		f=${f##*) }		# fields from 3 on; comm may hold spaces
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}

# Parses one wrk output FILE into "requests rps p50_ms p99_ms non2xx sockerr",
# requests/s with DECIMALS decimals (default 2).
wrk_parse() {
	awk -v dec="${2:-2}" '
	function ms(v) {
		if (v ~ /us$/) return v * 0.001
		if (v ~ /ms$/) return v + 0
		if (v ~ /m$/) return v * 60000
		if (v ~ /s$/) return v * 1000
		return v + 0
	}
	/ requests in / { req = $1 }
	/^Requests\/sec:/ { rps = $2 }
	/^ +50% / { p50 = ms($2) }
	/^ +99% / { p99 = ms($2) }
	/Non-2xx or 3xx responses:/ { non2xx = $NF }
	/Socket errors:/ { gsub(/,/, ""); se = $4 + $6 + $8 + $10 }
	END { printf "%d %.*f %.3f %.3f %d %d\n", req, dec, rps, p50, p99, non2xx, se }
	' "$1"
}

# The PIDs of pid's children, space-separated.
children_of() {	# pid
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' | tr '\n' ' '
}

# The words given, comma-separated (a PID list for a load client's -c).
commas() { echo "$*" | tr -s ' ' ',' | sed 's/^,//; s/,$//'; }

# The value of key=value in a load client's result line (the last one).
kv() {	# key file
	tr ' ' '\n' <"$2" | sed -n "s/^$1=//p" | tail -n1
}

# Dies unless each command is there; hint says how to install them.
bench_need() {	# hint command...
	local hint=$1 c
	shift
	for c in "$@"; do
		command -v "$c" >/dev/null || die "$c is missing ($hint)"
	done
}

# Dies without libsodium's header (the C programs need it).
bench_need_sodium() {
	[ -f /usr/include/sodium.h ] || die "no sodium.h (apt-get install libsodium-dev)"
}

# PG_BIN: the newest PostgreSQL's bin directory, with psql in it.
bench_need_psql() {
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	[ -x "$PG_BIN/psql" ] || die "no psql under /usr/lib/postgresql/*/bin"
}

# The temp directory of a run under /tmp: TMP, RUN_DIR (the stack's) and
# OUT (results); STACK_STARTED=0.
bench_tmp() {	# name
	TMP=$(mktemp -d "/tmp/enclavr-bench-$1.XXXXXX")
	# The stack's PostgreSQL runs as the postgres user and needs to reach RUN_DIR.
	chmod 755 "$TMP"
	RUN_DIR=$TMP/stack
	OUT=$TMP/out
	mkdir -p "$OUT"
	STACK_STARTED=0
}

# Builds the load client src (C, on bench/lib's client code) as TMP/name.
bench_build_client() {	# name src
	local lib=$ROOT/bench/lib
	note "building $1"
	"$CC" -std=c17 -O2 -Wall -Wextra -I"$lib" -o "$TMP/$1" "$2" "$lib/client.c" \
		"$lib/wsclient.c" "$lib/httpclient.c" "$lib/stats.c" -lsodium ||
		die "cannot build $(basename "$2")"
}

# A private stack in RUN_DIR on a free port, LOG_LEVEL=warn and the given
# environment: GW_PORT, GW, KEY (its token.key), the PIDs of its daemons,
# Redis and PostgreSQL, and its env file (PG_PORT, REDIS_PORT). -n: more
# words for the note.
bench_stack_up() {	# [-n words] [NAME=VALUE...]
	local more=
	if [ "${1:-}" = -n ]; then
		more=" $2"
		shift 2
	fi
	GW_PORT=$(free_port)
	note "starting the stack in $RUN_DIR on 127.0.0.1:$GW_PORT$more"
	STACK_STARTED=1
	env LOG_LEVEL=warn "$@" "$ROOT/scripts/stack.sh" up "$RUN_DIR" "$GW_PORT" "$BIN_DIR" \
		>"$OUT/stack-up.log" 2>&1 || { cat "$OUT/stack-up.log" >&2; die "stack.sh up failed"; }
	GW=http://127.0.0.1:$GW_PORT
	KEY=$RUN_DIR/etc/token.key
	GW_PID=$(cat "$RUN_DIR/pids/gatewayd.pid")
	AUTHD_PID=$(cat "$RUN_DIR/pids/authd.pid")
	CHATD_PID=$(cat "$RUN_DIR/pids/chatd.pid")
	REDIS_PID=$(cat "$RUN_DIR/pids/redis.pid")
	PG_PID=$(head -n1 "$RUN_DIR/pg/postmaster.pid")
	# shellcheck disable=SC1091
	. "$RUN_DIR/env"
}

# gatewayd's connection cap (default 10000) raised for many sockets, and
# its per-route rate limit checked to be off (the default, 0). Both are
# reloadable: SIGHUP.
bench_gw_unlimited() {	# script (named in gatewayd.conf)
	cat >>"$RUN_DIR/etc/gatewayd.conf" <<EOF
# Added by $1.
[http]
max_connections = 100000
[ratelimit]
default_per_minute = 0
EOF
	"$BIN_DIR/gatewayd" -N -f "$RUN_DIR/etc/gatewayd.conf" >"$OUT/gatewayd-effective.conf"
	grep -q '^max_connections = 100000$' "$OUT/gatewayd-effective.conf" &&
		grep -q '^default_per_minute = 0$' "$OUT/gatewayd-effective.conf" ||
		die "gatewayd does not read max_connections = 100000 and default_per_minute = 0"
	kill -HUP "$GW_PID"
	sleep 0.5
}

# psql on the stack's database: tuples only, unaligned, stops at an error.
psql_q() {	# psql-args...
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U enclavr -d enclavr \
		-tA "$@"
}

# PREFIX (the first 24 characters of a v4 UUID: user i is PREFIX + 12 hex
# digits of i) and TAG (8 hex digits) for a run's synthetic users.
bench_ids() {
	PREFIX=$("$PY" -c 'import uuid; print(str(uuid.uuid4())[:24])')
	TAG=$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
}

# Waits until the PIDs are idle: under max ticks of CPU in 0.5 s, for at
# most 60 s ("what still busy after 60 s; going on").
bench_wait_quiet() {	# max what pid...
	local max=$1 what=$2 a b i
	shift 2
	a=$(cpu_ticks "$@")
	for ((i = 0; i < 120; i++)); do
		sleep 0.5
		b=$(cpu_ticks "$@")
		[ $((b - a)) -lt "$max" ] && return 0
		a=$b
	done
	note "$what still busy after 60 s; going on"
}

# How many lines the daemons' logs have at the start (or the end) of the
# measured runs, for bench_log_report.
declare -A LOG_START LOG_END
bench_log_mark() {	# start|end daemon...
	local which=$1 d
	shift
	for d in "$@"; do
		if [ "$which" = start ]; then
			LOG_START[$d]=$(wc -l <"$RUN_DIR/log/$d.log")
		else
			LOG_END[$d]=$(wc -l <"$RUN_DIR/log/$d.log")
		fi
	done
}

# When any daemon logged (warn or above) between the marks: the last lines
# of each since the start mark.
bench_log_report() {	# when daemon...
	local when=$1 d any=0
	shift
	for d in "$@"; do
		if [ "${LOG_END[$d]}" -gt "${LOG_START[$d]}" ]; then any=1; fi
	done
	[ "$any" = 1 ] || return 0
	echo
	echo "lines logged at warn or above $when (the last ones):"
	for d in "$@"; do
		sed -n "$((LOG_START[$d] + 1)),\$p" "$RUN_DIR/log/$d.log" | tail -n 5 | sed "s/^/  $d: /"
	done
}

# BIN_DIR from a directory argument, with the four daemons in it.
bench_bin_dir() {	# dir
	[ -d "$1" ] || die "no directory $1 (run make)"
	BIN_DIR=$(cd "$1" && pwd)
	local b
	for b in gatewayd authd chatd voiced; do
		[ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing (run make)"
	done
}

# Ends a process this script started: TERM, then KILL after 5 s.
stop_pid() {	# pid (empty: nothing)
	local pid=$1
	[ -n "$pid" ] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null || true
}

# The end of every run, whatever happened: after a failure the last lines
# of the named daemons' logs, then the stack down (its cluster too, unless
# BENCH_KEEP=1) and the temp directory removed (or kept). Uses ROOT, TMP,
# RUN_DIR, KEEP and STACK_STARTED.
bench_finish() {	# rc daemon...
	local rc=$1 d
	shift
	if [ "$STACK_STARTED" = 1 ] && [ -d "$RUN_DIR" ]; then
		if [ "$rc" != 0 ]; then
			for d in "$@"; do
				[ -f "$RUN_DIR/log/$d.log" ] || continue
				note "last lines of $d.log:"
				tail -n 20 "$RUN_DIR/log/$d.log" >&2 || true
			done
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
}

# cleanup (the script's own) on exit, Ctrl-C and TERM.
bench_traps() {
	trap cleanup EXIT
	trap 'note interrupted; exit 130' INT
	trap 'exit 143' TERM
}
