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
