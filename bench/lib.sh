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
