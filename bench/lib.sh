# Helpers shared by the benchmark scripts (sourced; expects PY).

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
