#!/bin/bash
# Sign-in benchmark: logins/s against the hash-bound limit, and GET
# /api/auth/me latency during a login storm (see README.md).
#
#   bench/auth/run.sh BIN_DIR        (make bench passes build/rel/bin)
#
# One run starts a private stack (scripts/stack.sh, temp run directory under
# /tmp, free port, LOG_LEVEL=warn, the sign-in rate limit out of the way),
# registers BENCH_USERS users through the API, and measures:
#   login       POST /api/auth/login, wrk cycling through the users'
#               credentials (login.lua): one argon2id verification each,
#               at authd's effective [passwords] cost
#   hash-loop   crypto_pwhash_str_verify in a loop on hash_threads threads at
#               the same cost (pwhash_loop.c): the hash-bound limit; half
#               of it runs before the login run and half after
#   me-idle     GET /api/auth/me with a bearer token, nothing else running,
#               back to back (saturating the machine)
#   me-storm    the same while the login run hammers authd on other
#               connections (login-storm)
#   me-paced-idle, me-paced-storm
#               the same two at a fixed pace (BENCH_ME_RATE requests a
#               second, paced.lua): latency without a queue of our own
#               making. On 2 CPUs one of which argon2 keeps busy, the
#               saturating pair measures lost capacity more than latency.
# It prints requests/s, p50/p99 latency, errors, CPU per login and the two
# ratios of issue 3: logins/s over verifies/s (goal >= 0.8) and me p99 in
# the storm over idle (goal <= 2). Nothing is pinned: argon2 runs on
# authd's hash_threads threads (by default one fewer than the CPUs) and the
# bare loop on as many, each with the whole machine (README.md). Everything listens
# on 127.0.0.1 only; on exit or Ctrl-C the stack is stopped with stack.sh
# down, and no other process is touched.
#
# Environment knobs (defaults in brackets):
#   BENCH_USERS [64]          BENCH_LOGIN_CONNS [16]   BENCH_ME_CONNS [4]
#   BENCH_LOGIN_DURATION [20] BENCH_HASH_SECONDS [20]  BENCH_ME_DURATION [10]
#   BENCH_WARMUP [3]          (all durations in seconds)
#   BENCH_ME_RATE [400]       paced /api/auth/me requests a second
#   BENCH_KEEP [0]            1: keep the temp directory (logs, wrk output)
USERS=${BENCH_USERS:-64}
LOGIN_CONNS=${BENCH_LOGIN_CONNS:-16}
ME_CONNS=${BENCH_ME_CONNS:-4}
LOGIN_DURATION=${BENCH_LOGIN_DURATION:-20}
HASH_SECONDS=${BENCH_HASH_SECONDS:-20}
ME_DURATION=${BENCH_ME_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
ME_RATE=${BENCH_ME_RATE:-400}
KEEP=${BENCH_KEEP:-0}

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"		# set -euo pipefail; ROOT, HERE, PY, CC; the helpers

[ $# = 1 ] || die "usage: bench/auth/run.sh BIN_DIR"
bench_bin_dir "$1"
bench_need "apt-get install wrk curl gcc" wrk curl "$CC" "$PY"
"$PY" -c 'import requests' 2>/dev/null || die "$PY has no requests module (apt-get install python3-requests)"
bench_need_sodium
CLK_TCK=$(getconf CLK_TCK)

bench_tmp auth
BG_PIDS=()

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	for pid in "${BG_PIDS[@]}"; do
		stop_pid "$pid"
	done
	bench_finish "$rc" gatewayd authd
	exit "$rc"
}
bench_traps

# ------------------------------------------------------------------ hash loop

note "building pwhash_loop"
"$CC" -std=c17 -O2 -Wall -Wextra -o "$TMP/pwhash_loop" "$HERE/pwhash_loop.c" -lsodium -lpthread ||
	die "cannot build pwhash_loop.c"

# ------------------------------------------------------------------ stack

bench_stack_up RATE_AUTH_PER_MINUTE=1000000

# authd's effective cost: its defaults overlaid with the stack's file.
"$BIN_DIR/authd" -N -f "$RUN_DIR/etc/authd.conf" >"$OUT/authd-effective.conf" ||
	die "authd -N failed"
pw_opt() {
	awk -v k="$1" '/^\[/ { s = $0 } s == "[passwords]" && $1 == k { print $3 }' \
		"$OUT/authd-effective.conf"
}
OPSLIMIT=$(pw_opt argon2_opslimit)
MEMLIMIT_KIB=$(pw_opt argon2_memlimit_kib)
HASH_THREADS=$(pw_opt hash_threads)
[ -n "$OPSLIMIT" ] && [ -n "$MEMLIMIT_KIB" ] && [ -n "$HASH_THREADS" ] ||
	die "cannot read [passwords] from authd -N"
# 0 is authd's "one fewer than the CPUs, at least one".
if [ "$HASH_THREADS" = 0 ]; then
	HASH_THREADS=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
fi

# ------------------------------------------------------------------ users

export BENCH_CREDS=$OUT/creds.txt
note "registering $USERS users"
"$PY" - "$GW" "$USERS" "$BENCH_CREDS" "$OUT/token" <<'PYEOF' || die "registration failed"
import concurrent.futures, secrets, sys
import requests
base, n, creds_path, token_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
tag = secrets.token_hex(3)
def register(i):
    user, pw = f"bench_{tag}_{i}", f"Bench-pass-{i}!A1"
    r = requests.post(f"{base}/api/auth/register", timeout=60,
                      json={"username": user, "email": f"{user}@bench.example", "password": pw})
    if r.status_code != 201 and r.status_code != 200:
        raise SystemExit(f"register {user}: {r.status_code} {r.text}")
    return user, pw, r.json()["access_token"]
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    users = list(ex.map(register, range(n)))
with open(creds_path, "w") as f:
    for user, pw, _ in users:
        f.write(f"{user} {pw}\n")
with open(token_path, "w") as f:
    f.write(users[0][2])
PYEOF
TOKEN=$(cat "$OUT/token")

check() {	# name expected-status curl-args...
	local name=$1 want=$2 code
	shift 2
	code=$(curl -sS -o "$OUT/check-$name.body" -w '%{http_code}' --max-time 10 "$@") || code=000
	if [ "$code" != "$want" ]; then
		note "$name: HTTP $code, expected $want; body:"
		cat "$OUT/check-$name.body" >&2 2>/dev/null; echo >&2
		die "pre-flight check $name failed"
	fi
}
read -r U1 P1 <"$BENCH_CREDS"
check login 200 -X POST -H 'Content-Type: application/json' \
	--data "{\"username\":\"$U1\",\"password\":\"$P1\"}" "$GW/api/auth/login"
grep -q '"access_token"' "$OUT/check-login.body" || die "login answered no access_token"
check me 200 -H "Authorization: Bearer $TOKEN" "$GW/api/auth/me"

# ------------------------------------------------------------------ runs

LOGIN_WRK=(wrk -t1 -c"$LOGIN_CONNS" --timeout 30s --latency -s "$HERE/login.lua")
ME_WRK=(wrk -t1 -c"$ME_CONNS" --timeout 10s --latency -H "Authorization: Bearer $TOKEN")
ME_PACED=("${ME_WRK[@]}" -s "$HERE/paced.lua")
export BENCH_DELAY_MS=$(( ME_CONNS * 1000 / ME_RATE ))
bench_log_mark start gatewayd authd

# The hash loop runs in two halves, before and after the login run, so that
# a change in what else the machine does weighs on both sides alike.
HASH_HALF=$(( (HASH_SECONDS + 1) / 2 ))
hash_loop() {	# output file
	note "hash-loop: $HASH_THREADS thread(s), ${HASH_HALF}s, opslimit $OPSLIMIT, memlimit $MEMLIMIT_KIB KiB"
	"$TMP/pwhash_loop" "$HASH_THREADS" "$HASH_HALF" "$OPSLIMIT" "$MEMLIMIT_KIB" >"$1" ||
		die "pwhash_loop failed"
}
hash_loop "$OUT/hash-loop-1.txt"

note "login: warm-up ${WARMUP}s, then ${LOGIN_DURATION}s"
"${LOGIN_WRK[@]}" -d"${WARMUP}s" "$GW/api/auth/login" >"$OUT/login.warmup" 2>&1 || true
PG_PIDS="$PG_PID $(children_of "$PG_PID")"
g0=$(cpu_ticks "$GW_PID"); a0=$(cpu_ticks "$AUTHD_PID"); p0=$(cpu_ticks $PG_PIDS)
t0=$(date +%s%N)
"${LOGIN_WRK[@]}" -d"${LOGIN_DURATION}s" "$GW/api/auth/login" >"$OUT/login.wrk" 2>&1 ||
	{ cat "$OUT/login.wrk" >&2; die "wrk failed for login"; }
t1=$(date +%s%N)
PG_PIDS="$PG_PID $(children_of "$PG_PID")"
g1=$(cpu_ticks "$GW_PID"); a1=$(cpu_ticks "$AUTHD_PID"); p1=$(cpu_ticks $PG_PIDS)

hash_loop "$OUT/hash-loop-2.txt"

note "me-idle: ${ME_DURATION}s"
"${ME_WRK[@]}" -d"${WARMUP}s" "$GW/api/auth/me" >"$OUT/me-idle.warmup" 2>&1 || true
"${ME_WRK[@]}" -d"${ME_DURATION}s" "$GW/api/auth/me" >"$OUT/me-idle.wrk" 2>&1 ||
	{ cat "$OUT/me-idle.wrk" >&2; die "wrk failed for me-idle"; }

note "me-paced-idle: ${ME_DURATION}s at $ME_RATE requests/s"
"${ME_PACED[@]}" -d"${ME_DURATION}s" "$GW/api/auth/me" >"$OUT/me-paced-idle.wrk" 2>&1 ||
	{ cat "$OUT/me-paced-idle.wrk" >&2; die "wrk failed for me-paced-idle"; }

note "me-storm: ${ME_DURATION}s of /api/auth/me inside a login storm, then as many paced"
"${LOGIN_WRK[@]}" -d"$((2 * ME_DURATION + WARMUP + 2))s" "$GW/api/auth/login" \
	>"$OUT/login-storm.wrk" 2>&1 &
STORM_PID=$!
BG_PIDS+=("$STORM_PID")
sleep "$WARMUP"
"${ME_WRK[@]}" -d"${ME_DURATION}s" "$GW/api/auth/me" >"$OUT/me-storm.wrk" 2>&1 ||
	{ cat "$OUT/me-storm.wrk" >&2; die "wrk failed for me-storm"; }
"${ME_PACED[@]}" -d"${ME_DURATION}s" "$GW/api/auth/me" >"$OUT/me-paced-storm.wrk" 2>&1 ||
	{ cat "$OUT/me-paced-storm.wrk" >&2; die "wrk failed for me-paced-storm"; }
wait "$STORM_PID" || { cat "$OUT/login-storm.wrk" >&2; die "wrk failed for login-storm"; }
BG_PIDS=()

bench_log_mark end gatewayd authd

# ------------------------------------------------------------------ report

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

echo
echo "sign-in benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, nothing pinned;" \
	"argon2id opslimit $OPSLIMIT, memlimit $MEMLIMIT_KIB KiB, $HASH_THREADS hash thread(s)"
echo "login: wrk -t1 -c$LOGIN_CONNS -d${LOGIN_DURATION}s over $USERS users;" \
	"me: wrk -t1 -c$ME_CONNS -d${ME_DURATION}s (paced: $ME_RATE/s); hash-loop: ${HASH_SECONDS}s"
echo
printf '%-12s %9s %9s %9s %9s %7s %7s\n' target requests req/s p50_ms p99_ms non2xx sockerr
declare -A RPS P99
for name in login login-storm me-idle me-storm me-paced-idle me-paced-storm; do
	read -r req rps p50 p99 non2xx se < <(wrk_parse "$OUT/$name.wrk")
	RPS[$name]=$rps
	P99[$name]=$p99
	printf '%-12s %9s %9s %9s %9s %7s %7s\n' "$name" "$req" "$rps" "$p50" "$p99" "$non2xx" "$se"
done
# verifies seconds cpu_s of both halves together
read -r HASH_N HASH_S HASH_CPU < <(cat "$OUT"/hash-loop-[12].txt | tr ' =' '\n\n' | awk '
	prev == "verifies" { n += $0 } prev == "seconds" { s += $0 } prev == "cpu_s" { c += $0 }
	{ prev = $0 } END { print n, s, c }')
HASH_RPS=$(awk -v n="$HASH_N" -v s="$HASH_S" 'BEGIN { printf "%.2f", (s > 0 ? n / s : 0) }')
printf '%-12s %9s %9s %9s %9s %7s %7s\n' hash-loop "$HASH_N" "$HASH_RPS" - - - -

read -r LOGIN_REQ _ < <(wrk_parse "$OUT/login.wrk")
echo
awk -v n="$LOGIN_REQ" -v hz="$CLK_TCK" -v ns="$((t1 - t0))" -v g="$((g1 - g0))" \
    -v a="$((a1 - a0))" -v p="$((p1 - p0))" 'BEGIN {
	n = n > 0 ? n : 1
	printf "CPU per login (login run): authd %.1f ms, gatewayd %.2f ms, PostgreSQL %.2f ms;" \
	    " authd used %.0f%% of one CPU\n", a/hz*1000/n, g/hz*1000/n, p/hz*1000/n,
	    a/hz/(ns/1e9)*100
}'
HASH_CPU_PER=$(awk -v c="$HASH_CPU" -v n="$HASH_N" 'BEGIN { printf "%.1f", (n > 0 ? c * 1000 / n : 0) }')
AUTHD_CPU_PER=$(awk -v a="$((a1 - a0))" -v hz="$CLK_TCK" -v n="$LOGIN_REQ" \
	'BEGIN { printf "%.1f", (n > 0 ? a / hz * 1000 / n : 0) }')
echo "CPU per verify (hash-loop): $HASH_CPU_PER ms; the hash loop used" \
	"$(awk -v c="$HASH_CPU" -v s="$HASH_S" 'BEGIN { printf "%.0f", (s > 0 ? c / s * 100 : 0) }')% of one CPU"
echo
echo "logins/s vs hash-bound limit:  ${RPS[login]} / $HASH_RPS = $(ratio "${RPS[login]}" "$HASH_RPS")" \
	"  (goal >= 0.80)"
echo "CPU per verify vs per login:   $HASH_CPU_PER ms / $AUTHD_CPU_PER ms =" \
	"$(ratio "$HASH_CPU_PER" "$AUTHD_CPU_PER")   (authd's efficiency; steadier than req/s on a busy machine)"
echo "me p99 storm vs idle, paced:  ${P99[me-paced-storm]} ms / ${P99[me-paced-idle]} ms =" \
	"$(ratio "${P99[me-paced-storm]}" "${P99[me-paced-idle]}")   (goal <= 2.00)"
echo "me p99 storm vs idle, saturating: ${P99[me-storm]} ms / ${P99[me-idle]} ms =" \
	"$(ratio "${P99[me-storm]}" "${P99[me-idle]}")   (the storm takes a CPU away)"

bench_log_report "during the runs" gatewayd authd
for name in login login-storm me-idle me-storm me-paced-idle me-paced-storm; do
	if grep -q -e 'Non-2xx' -e 'Socket errors' "$OUT/$name.wrk"; then
		echo
		echo "$name: wrk reported errors:"
		grep -e 'Non-2xx' -e 'Socket errors' "$OUT/$name.wrk"
	fi
done
