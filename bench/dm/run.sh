#!/bin/bash
# Direct-message benchmark: DM throughput and send→deliver latency over
# many concurrent conversations, and the conversation list of a user with
# 10k conversations (see README.md).
#
#   bench/dm/run.sh [BIN_DIR]        (default build/rel/bin; make bench-dm)
#
# One run builds dmload.c (cc -O2, with bench/lib), starts a private stack
# (scripts/stack.sh, temp run directory under /tmp, free port,
# LOG_LEVEL=warn, gatewayd's connection cap raised and its default rate
# limit checked off), and measures, everything on 127.0.0.1:
#   load   BENCH_DM_CONVS conversations (1000): a sender posting
#          BENCH_DM_RATE DMs/s (2) with POST /api/dm/send on a pool of
#          keep-alive connections, open-loop (each DM due at a fixed time),
#          and a receiver holding one GET /api/ws socket, for
#          BENCH_DM_WARMUP + BENCH_DM_SECONDS (3 + 60) s: DMs/s delivered,
#          latency from the due time to the frame on the receiver's socket
#          (p50/p99/max), errors, non-200 answers and lost DMs (answered
#          200, not delivered within BENCH_DM_DRAIN s of the end).
#   list   one user with BENCH_DM_LIST_CONVS direct conversations (10000) of
#          BENCH_DM_LIST_MSGS messages each (3), made by SQL, ANALYZEd:
#          GET /api/dm/conversations (default page) through gatewayd, one
#          request at a time (p50/p99 of BENCH_DM_LIST_REQUESTS, 300; goal
#          p99 <= 20 ms), the same call to chat.dm_conversations() in psql
#          (\timing, BENCH_DM_SQL_REQUESTS, 200), and the EXPLAIN (ANALYZE,
#          BUFFERS) plan of the function's inner query as it runs (auto_explain,
#          nested statements), checked for an Index Scan on
#          conversation_members_list_idx.
# Nothing is pinned unless BENCH_DM_CLIENT_CPU names a CPU for dmload.
# Synthetic users are rows inserted straight into auth.users (any password
# hash: nobody logs in) with tokens minted by dmload from the stack's
# token.key, as the tests' stack.token() does. On exit or Ctrl-C it stops
# dmload by PID and the stack with stack.sh down --purge; it touches no
# other process.
#
# Environment knobs (defaults in brackets):
#   BENCH_DM_CONVS [1000]  BENCH_DM_RATE [2]  (DMs/s per conversation)
#   BENCH_DM_SECONDS [60]  BENCH_DM_WARMUP [3]  BENCH_DM_DRAIN [5]
#   BENCH_DM_POOL [128]    keep-alive connections for the POSTs
#   BENCH_DM_LIST_CONVS [10000]  BENCH_DM_LIST_MSGS [3]
#   BENCH_DM_LIST_REQUESTS [300]  BENCH_DM_SQL_REQUESTS [200]
#   BENCH_DM_LIST_GOAL_MS [20]
#   BENCH_DM_SKIP_LOAD [0]  BENCH_DM_SKIP_LIST [0]
#   BENCH_DM_CLIENT_CPU []  a CPU to pin dmload to (empty: not pinned)
#   BENCH_DM_CHATD_POOL []  chatd's [database] pool_size for the run (empty:
#                           the stack's, i.e. the shipped default)
#   BENCH_KEEP [0]          1: keep the temp directory (logs, raw results)
CONVS=${BENCH_DM_CONVS:-1000}
RATE=${BENCH_DM_RATE:-2}
DURATION=${BENCH_DM_SECONDS:-60}
WARMUP=${BENCH_DM_WARMUP:-3}
DRAIN=${BENCH_DM_DRAIN:-5}
POOL=${BENCH_DM_POOL:-128}
LIST_CONVS=${BENCH_DM_LIST_CONVS:-10000}
LIST_MSGS=${BENCH_DM_LIST_MSGS:-3}
LIST_REQUESTS=${BENCH_DM_LIST_REQUESTS:-300}
SQL_REQUESTS=${BENCH_DM_SQL_REQUESTS:-200}
LIST_GOAL_MS=${BENCH_DM_LIST_GOAL_MS:-20}
SKIP_LOAD=${BENCH_DM_SKIP_LOAD:-0}
SKIP_LIST=${BENCH_DM_SKIP_LIST:-0}
CLIENT_CPU=${BENCH_DM_CLIENT_CPU:-}
CHATD_POOL_SET=${BENCH_DM_CHATD_POOL:-}
KEEP=${BENCH_KEEP:-0}
LIST_PAGE=100			# chatd's CHAT_DM_LIST_DEFAULT
LIST_PEER0=1048576		# index of the list user's first peer (0x100000)

# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"		# set -euo pipefail; ROOT, HERE, PY, CC; the helpers

[ $# -le 1 ] || die "usage: bench/dm/run.sh [BIN_DIR]"
bench_bin_dir "${1:-$ROOT/build/rel/bin}"
bench_need "apt-get install gcc curl" "$CC" curl "$PY"
[ -z "$CLIENT_CPU" ] || bench_need util-linux taskset
bench_need_sodium
bench_need_psql
[ "$CONVS" -ge 1 ] && [ $((2 * CONVS + 2)) -lt "$LIST_PEER0" ] ||
	die "BENCH_DM_CONVS must be 1 .. $((LIST_PEER0 / 2 - 2))"
[ "$LIST_CONVS" -ge 1 ] && [ "$LIST_MSGS" -ge 1 ] || die "BENCH_DM_LIST_CONVS and _MSGS must be >= 1"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_tmp dm
DMLOAD_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$DMLOAD_PID"
	bench_finish "$rc" gatewayd chatd
	exit "$rc"
}
bench_traps

# Waits until gatewayd, chatd and PostgreSQL are idle (under 5 ticks in
# 0.5 s, at most 60 s).
wait_quiet() {
	# shellcheck disable=SC2046
	bench_wait_quiet 5 "the stack is" "$GW_PID" "$CHATD_PID" "$PG_PID" $(children_of "$PG_PID")
}

# ------------------------------------------------------------------ tools

bench_build_client dmload "$HERE/dmload.c"
DMLOAD=("$TMP/dmload")
[ -z "$CLIENT_CPU" ] || DMLOAD=(taskset -c "$CLIENT_CPU" "$TMP/dmload")

# ------------------------------------------------------------------ stack

bench_stack_up
# The receivers' sockets and the pool must fit under gatewayd's connection
# cap, and the per-route rate limit must be off (the default).
bench_gw_unlimited bench/dm/run.sh
if [ -n "$CHATD_POOL_SET" ]; then
	# chatd reads pool_size at start only: restart this stack's chatd.
	printf '# Added by bench/dm/run.sh.\n[database]\npool_size = %s\n' "$CHATD_POOL_SET" \
		>>"$RUN_DIR/etc/chatd.conf"
	stop_pid "$CHATD_PID"
	"$ROOT/scripts/stack.sh" start-daemon "$RUN_DIR" chatd >>"$OUT/stack-up.log" 2>&1 ||
		die "cannot restart chatd"
	CHATD_PID=$(cat "$RUN_DIR/pids/chatd.pid")
	# Ready when a chatd route answers through gatewayd 3 s in a row:
	# gatewayd takes the old instance's last heartbeat for a while, then
	# reloads the new one's routes (503 meanwhile).
	tok=$("$TMP/dmload" -k "$KEY" -u "$(cut -c1-24 /proc/sys/kernel/random/uuid)" -T 0)
	ok=0
	for ((i = 0; i < 360 && ok < 12; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H "Authorization: Bearer $tok" \
			"http://127.0.0.1:$GW_PORT/api/dm/conversations") || true
		if [ "$code" = 200 ]; then ok=$((ok + 1)); else ok=0; fi
		kill -0 "$CHATD_PID" 2>/dev/null || die "chatd exited after the restart"
		sleep 0.25
	done
	[ "$ok" -ge 12 ] || die "chatd's routes are not steadily up 90 s after its restart (last HTTP $code)"
fi
CHATD_POOL=$("$BIN_DIR/chatd" -N -f "$RUN_DIR/etc/chatd.conf" 2>/dev/null |
	awk '/^\[/ { s = $0 } s == "[database]" && $1 == "pool_size" { print $3 }')

# ------------------------------------------------------------------ users

# User i is PREFIX + 12 hex digits of i: 0 is the list user, 2k+1 and 2k+2
# the sender and receiver of conversation k, LIST_PEER0 + j the list user's
# peers.
bench_ids
uid() { printf '%s%012x' "$PREFIX" "$1"; }
LIST_USER=$(uid 0)

# auth.users rows for indexes lo..hi (auth.directory is a view over it).
add_users() {	# lo hi
	psql_q -c "INSERT INTO auth.users (id, username, email, display_name, password_hash)
		SELECT ('$PREFIX' || lpad(to_hex(i), 12, '0'))::uuid, 'dmb$TAG' || '_' || to_hex(i),
		       'dmb$TAG' || '_' || to_hex(i) || '@bench.example', 'DM bench ' || i, 'x'
		FROM generate_series($1, $2) i" >/dev/null || die "cannot insert users $1..$2"
}
note "users: $LIST_USER (list user) and $((2 * CONVS)) load users"
add_users 0 $((2 * CONVS))

bench_log_mark start gatewayd chatd
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ load

if [ "$SKIP_LOAD" != 1 ]; then
	# Pre-flight: conversation 0 (users 1 -> 2), one DM by curl, then one
	# second of dmload on it: every DM must arrive.
	TOKEN1=$("${DMLOAD[@]}" -k "$KEY" -u "$PREFIX" -T 1)
	code=$(curl -sS -o "$OUT/check-send.json" -w '%{http_code}' --max-time 10 -X POST \
		-H "Authorization: Bearer $TOKEN1" -H 'Content-Type: application/json' \
		--data "{\"receiver_id\":\"$(uid 2)\",\"content\":\"pre-flight\"}" "$GW/api/dm/send") ||
		code=000
	[ "$code" = 200 ] || die "pre-flight POST /api/dm/send: HTTP $code $(cat "$OUT/check-send.json")"
	"${DMLOAD[@]}" -q -p "$GW_PORT" -k "$KEY" -u "$PREFIX" -n 1 -R 10 -w 0 -d 1 -D 5 -S 0.2 -P 2 \
		>"$OUT/check.txt" 2>"$OUT/check.err" || { cat "$OUT/check.err" >&2; die "pre-flight failed"; }
	[ "$(kv lost "$OUT/check.txt")" = 0 ] && [ "$(kv non200 "$OUT/check.txt")" = 0 ] &&
		[ "$(kv delivered "$OUT/check.txt")" = "$(kv msgs "$OUT/check.txt")" ] ||
		{ cat "$OUT/check.txt" >&2; die "pre-flight: the receiver did not get every DM"; }

	wait_quiet
	PG_PIDS=$(commas "$PG_PID" $(children_of "$PG_PID"))
	note "load: $CONVS conversations x $RATE DM/s, ${WARMUP}s + ${DURATION}s, pool $POOL"
	"${DMLOAD[@]}" -p "$GW_PORT" -k "$KEY" -u "$PREFIX" -n "$CONVS" -R "$RATE" \
		-w "$WARMUP" -d "$DURATION" -D "$DRAIN" -P "$POOL" \
		-c "gatewayd=$GW_PID" -c "chatd=$CHATD_PID" -c "pg=$PG_PIDS" -c "redis=$REDIS_PID" \
		>"$OUT/load.txt" 2>"$OUT/load.err" &
	DMLOAD_PID=$!
	wait "$DMLOAD_PID" || { cat "$OUT/load.err" >&2; die "dmload failed"; }
	DMLOAD_PID=
	cat "$OUT/load.err" >&2
fi

bench_log_mark end gatewayd chatd
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ list

if [ "$SKIP_LIST" != 1 ]; then
	wait_quiet
	note "list: $LIST_CONVS conversations of $LIST_MSGS messages for $LIST_USER"
	t0=$(date +%s%N)
	add_users "$LIST_PEER0" $((LIST_PEER0 + LIST_CONVS - 1))
	# Activity over the last 180 days, denser near now (cube of a uniform
	# draw); the messages 1-30 minutes apart, the last one at the activity
	# time; the peer wrote the odd ones; the list user has 0..MSGS unread.
	psql_q <<EOF >/dev/null || die "cannot create the list user's conversations"
BEGIN;
CREATE TEMP TABLE bench_list ON COMMIT DROP AS
    SELECT j, gen_random_uuid() AS conv,
           ('$PREFIX' || lpad(to_hex($LIST_PEER0 + j), 12, '0'))::uuid AS peer,
           now() - interval '180 days' * power(random(), 3) AS at,
           floor(random() * ($LIST_MSGS + 1))::int AS unread,
           1 + floor(random() * 30)::int AS gap_min
    FROM generate_series(0, $LIST_CONVS - 1) j;
INSERT INTO chat.conversations (id, kind, pair_lo, pair_hi, created_by, last_seq,
                                created_at, updated_at)
    SELECT conv, 'direct', least('$LIST_USER'::uuid, peer), greatest('$LIST_USER'::uuid, peer),
           peer, $LIST_MSGS, at - gap_min * $LIST_MSGS * interval '1 minute', at
    FROM bench_list;
INSERT INTO chat.conversation_members (conversation_id, user_id, kind, joined_at,
                                       last_read_seq, read_at, unread, active_at)
    SELECT conv, '$LIST_USER'::uuid, 'direct', at - gap_min * $LIST_MSGS * interval '1 minute',
           $LIST_MSGS - unread, at - gap_min * unread * interval '1 minute', unread, at
    FROM bench_list
    UNION ALL
    SELECT conv, peer, 'direct', at - gap_min * $LIST_MSGS * interval '1 minute',
           $LIST_MSGS, at, 0, at
    FROM bench_list;
INSERT INTO chat.dm_messages (conversation_id, seq, sender_id, content, created_at, updated_at)
    SELECT conv, s, CASE WHEN s % 2 = 1 THEN peer ELSE '$LIST_USER'::uuid END,
           'bench message ' || s || ' of conversation ' || j,
           at - gap_min * ($LIST_MSGS - s) * interval '1 minute',
           at - gap_min * ($LIST_MSGS - s) * interval '1 minute'
    FROM bench_list, generate_series(1, $LIST_MSGS) s;
COMMIT;
ANALYZE auth.users;
ANALYZE chat.conversations;
ANALYZE chat.conversation_members;
ANALYZE chat.dm_messages;
EOF
	t1=$(date +%s%N)
	LIST_SETUP_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	ROWS=$(psql_q -c "SELECT (SELECT count(*) FROM chat.conversations) || ' conversations, ' ||
		(SELECT count(*) FROM chat.conversation_members) || ' members, ' ||
		(SELECT count(*) FROM chat.dm_messages) || ' messages, ' ||
		(SELECT count(*) FROM auth.users) || ' users'")

	# Pre-flight: a full first page, newest first, the newest activity on top.
	TOKEN0=$("${DMLOAD[@]}" -k "$KEY" -u "$PREFIX" -T 0)
	code=$(curl -sS -o "$OUT/list.json" -w '%{http_code}' --max-time 30 \
		-H "Authorization: Bearer $TOKEN0" "$GW/api/dm/conversations") || code=000
	[ "$code" = 200 ] || die "GET /api/dm/conversations: HTTP $code $(head -c 300 "$OUT/list.json")"
	WANT=$((LIST_CONVS < LIST_PAGE ? LIST_CONVS : LIST_PAGE))
	NEWEST=$(psql_q -c "SELECT conversation_id FROM chat.conversation_members
		WHERE user_id = '$LIST_USER' ORDER BY active_at DESC, conversation_id DESC LIMIT 1")
	LAST_ID=$("$PY" - "$OUT/list.json" "$WANT" "$NEWEST" <<'PYEOF'
import json, sys
path, want, newest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = json.load(open(path))
rows = body if isinstance(body, list) else next(v for v in body.values() if isinstance(v, list))
if len(rows) != want:
    sys.exit(f"list: {len(rows)} rows, expected {want}")
if rows[0]["conversation_id"] != newest:
    sys.exit(f"list: first row {rows[0]['conversation_id']}, expected the newest {newest}")
times = [r["last_time"] for r in rows]
if times != sorted(times, reverse=True):
    sys.exit("list: rows are not newest first")
if not all(r["last_message"].startswith("bench message") and r["username"] for r in rows):
    sys.exit("list: a row without its last message or its peer's name")
print(rows[-1]["conversation_id"])
PYEOF
) || die "the conversation list is not what was inserted"
	BYTES=$(wc -c <"$OUT/list.json")

	note "list: GET /api/dm/conversations x $LIST_REQUESTS (and page 2 with before=)"
	"${DMLOAD[@]}" -m get -p "$GW_PORT" -k "$KEY" -u "$PREFIX" -U 0 -N "$LIST_REQUESTS" -W 20 \
		-G /api/dm/conversations >"$OUT/list-api.txt" 2>"$OUT/list-api.err" ||
		{ cat "$OUT/list-api.err" >&2; die "dmload get failed"; }
	"${DMLOAD[@]}" -m get -p "$GW_PORT" -k "$KEY" -u "$PREFIX" -U 0 -N "$LIST_REQUESTS" -W 20 \
		-G "/api/dm/conversations?before=$LAST_ID" >"$OUT/list-api2.txt" 2>"$OUT/list-api2.err" ||
		{ cat "$OUT/list-api2.err" >&2; die "dmload get (page 2) failed"; }
	# The same with TCP_QUICKACK on the client: no delayed ACK for a
	# server's Nagle-held last segment to wait for (a diagnosis, not what
	# a browser sees).
	"${DMLOAD[@]}" -m get -Q -p "$GW_PORT" -k "$KEY" -u "$PREFIX" -U 0 -N "$LIST_REQUESTS" -W 20 \
		-G /api/dm/conversations >"$OUT/list-api-qa.txt" 2>"$OUT/list-api-qa.err" ||
		{ cat "$OUT/list-api-qa.err" >&2; die "dmload get (quickack) failed"; }

	# The SQL alone: chatd's statement (CHAT_REPLY around the function),
	# prepared, in one psql session, \timing per call; the output is
	# discarded but still sent over the socket.
	note "list: chat.dm_conversations() in psql x $SQL_REQUESTS"
	{
		echo "PREPARE q(uuid, integer, uuid) AS SELECT f.status, f.body::text, e::text"
		echo "  FROM chat.dm_conversations(\$1, \$2, \$3) f"
		echo "  LEFT JOIN LATERAL jsonb_array_elements(f.events) e ON true;"
		echo '\o /dev/null'
		for ((i = 0; i < 20; i++)); do echo "EXECUTE q('$LIST_USER', $LIST_PAGE, NULL);"; done
		echo '\timing on'
		for ((i = 0; i < SQL_REQUESTS; i++)); do echo "EXECUTE q('$LIST_USER', $LIST_PAGE, NULL);"; done
	} >"$OUT/sql-timing.sql"
	psql_q -f "$OUT/sql-timing.sql" >"$OUT/sql-timing.out" 2>&1 ||
		{ cat "$OUT/sql-timing.out" >&2; die "psql timing run failed"; }
	read -r SQL_N SQL_P50 SQL_P99 SQL_MAX < <(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' \
		"$OUT/sql-timing.out" | sort -g | awk '{ v[NR] = $1 } END {
		i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
		i99 = int(NR * 0.99 + 0.999); if (i99 > NR) i99 = NR
		printf "%d %.3f %.3f %.3f\n", NR, v[i50], v[i99], v[NR] }')

	# The plans: auto_explain logs the function's inner statement as it
	# runs (nested statements, ANALYZE, BUFFERS) on the 1st call of a
	# session (a custom plan) and on the 10th (the plan plpgsql keeps).
	note "list: the inner query's plan (auto_explain)"
	{
		echo "LOAD 'auto_explain';"
		echo "SET auto_explain.log_analyze = on;"
		echo "SET auto_explain.log_buffers = on;"
		echo "SET auto_explain.log_timing = on;"
		echo "SET auto_explain.log_nested_statements = on;"
		echo "SET client_min_messages = log;"
		echo '\o /dev/null'
		for ((i = 1; i <= 10; i++)); do
			if [ "$i" = 1 ] || [ "$i" = 10 ]; then
				echo "SET auto_explain.log_min_duration = 0;"
				echo "\\warn '--- call $i'"
			else
				echo "SET auto_explain.log_min_duration = -1;"
			fi
			echo "SELECT chat.dm_conversations('$LIST_USER', $LIST_PAGE, NULL);"
		done
	} >"$OUT/plan.sql"
	psql_q -f "$OUT/plan.sql" >"$OUT/plan.raw" 2>&1 || { cat "$OUT/plan.raw" >&2; die "auto_explain run failed"; }
	# Keep the plan of the statement that reads conversation_members (the
	# largest such one of each call: the list's SELECT, with
	# chat.conversation_page inlined or not), without the query text, and
	# count the nested statements each call ran.
	"$PY" - "$OUT/plan.raw" >"$OUT/plan.txt" 2>"$OUT/plan-counts.txt" <<'PYEOF'
import collections, re, sys
text = open(sys.argv[1]).read()
call, best, counts = None, collections.OrderedDict(), collections.OrderedDict()
for block in re.split(r"(?m)^(?=psql:[^\n]*LOG:|--- call )", text):
    if block.startswith("--- call "):
        call = block.split()[2]
        counts[call] = collections.Counter()
        continue
    if "Query Text:" not in block or call is None:
        continue
    head, body = block.split("Query Text:", 1)
    lines = body.splitlines()
    root = next((i for i, l in enumerate(lines) if re.match(r"^[A-Z][A-Za-z ]*  \(cost=", l)), None)
    if root is None:
        continue
    query = " ".join(" ".join(lines[:root]).split())
    counts[call][query[:70]] += 1
    plan = [l.rstrip() for l in lines[root:] if l.strip()]
    if not any(" on conversation_members" in l for l in plan):
        continue
    dur = re.search(r"duration: ([0-9.]+) ms", head)
    dur = float(dur.group(1)) if dur else 0.0
    if call not in best or dur > best[call][0]:
        best[call] = (dur, query, plan)
out = []
for call, (dur, query, plan) in best.items():
    out.append(f"--- call {call}: the statement that reads conversation_members"
               f" (auto_explain duration {dur:.3f} ms): {query[:90]}...")
    out.extend(plan)
if out:
    print("\n".join(out))
for call, c in counts.items():
    for q, n in c.most_common(5):
        print(f"call {call}: {n} x {q}", file=sys.stderr)
PYEOF
	grep -q '^--- call' "$OUT/plan.txt" ||
		{ tail -n 50 "$OUT/plan.raw" >&2; die "no plan that reads conversation_members in the auto_explain output"; }
	# What the verdict reads: the plan that plpgsql keeps (call 10).
	sed -n '/^--- call 10:/,$p' "$OUT/plan.txt" >"$OUT/plan-10.txt"
	[ -s "$OUT/plan-10.txt" ] || cp "$OUT/plan.txt" "$OUT/plan-10.txt"
	if grep -q -E 'Index (Only )?Scan[^|]* using conversation_members_list_idx' "$OUT/plan-10.txt" &&
	    ! grep -q 'Seq Scan on conversation_members' "$OUT/plan-10.txt"; then
		PLAN_INDEX=yes
	else
		PLAN_INDEX=NO
	fi
	SORT_NODES=$(grep -c -E '^\s*(->\s*)?(Incremental )?Sort  \(' "$OUT/plan-10.txt" || true)
	PLAN_EXEC_MS=$(sed -n 's/^--- call 10:.*auto_explain duration \([0-9.]*\) ms.*/\1/p' "$OUT/plan.txt")
fi

# ------------------------------------------------------------------ report

verdict_le() { awk -v v="$1" -v g="$2" 'BEGIN { if (v == "") print "n/a"; else if (v + 0 <= g + 0) print "ok"; else printf "MISSED (%.1fx)\n", v / g }'; }
verdict_zero() { if [ "$1" = 0 ]; then echo ok; else echo "NOT ZERO"; fi; }

echo
echo "direct messages, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, nothing pinned$( [ -n "$CLIENT_CPU" ] && echo " but dmload (CPU $CLIENT_CPU)");" \
	"load average $LOAD0 before the load, $LOAD1 after; chatd pool_size ${CHATD_POOL:-?}"
if [ "$SKIP_LOAD" != 1 ]; then
	f=$OUT/load.txt
	echo
	echo "load: $CONVS conversations (2 users each, the receiver on one /api/ws socket)," \
		"$RATE DM/s each = $(kv offered_per_s "$f") DM/s offered, ${WARMUP}s warm-up + ${DURATION}s measured;"
	echo "      POST /api/dm/send on $POOL keep-alive connections, open-loop; latency = frame on the" \
		"receiver's socket - the DM's due time"
	printf '  %-26s %s\n' \
		"DMs delivered/s" "$(kv dms_per_s "$f") ($(kv win_delivered "$f") deliveries in $(kv measured_s "$f") s; measured DMs delivered: $(kv measured_delivered "$f") of $(kv measured_msgs "$f") due)" \
		"latency p50 / p90 / p99" "$(kv p50_ms "$f") / $(kv p90_ms "$f") / $(kv p99_ms "$f") ms" \
		"latency p99.9 / max" "$(kv p999_ms "$f") / $(kv max_ms "$f") ms (mean $(kv mean_ms "$f"))" \
		"  from the write" "p50 $(kv w_p50_ms "$f"), p99 $(kv w_p99_ms "$f"), max $(kv w_max_ms "$f") ms" \
		"POST answer p50 / p99" "$(kv post_p50_ms "$f") / $(kv post_p99_ms "$f") ms (max $(kv post_max_ms "$f"))" \
		"written late (> 2 ms)" "$(kv late "$f") (max $(kv max_late_ms "$f") ms after due)" \
		"sent / 200 / non-200" "$(kv written "$f") / $(kv ok "$f") / $(kv non200 "$f") (4xx $(kv st_4xx "$f"), 5xx $(kv st_5xx "$f"), other $(kv st_other "$f"))" \
		"not sent (server behind)" "$(kv not_written "$f") of $(kv msgs "$f") still queued ${DRAIN}s after the schedule's end; pool connections busy at most: $(kv max_busy "$f")" \
		"errors" "connection $(kv conn_err "$f"), unanswered $(kv unanswered "$f"), receiver sockets closed $(kv closed "$f")" \
		"lost (200, not delivered)" "$(kv lost "$f") within ${DRAIN}s (drain took $(kv drain_s "$f") s); of them $(kv lost_mid "$f") with a later DM of the same conversation delivered; $(kv arrived_late "$f") came in the next $(kv late_wait_s "$f") s; e.g. $(kv lost_examples "$f")" \
		"delivered > 100 ms after 200" "$(kv after_answer_slow "$f") (max $(kv after_answer_max_ms "$f") ms after the POST's answer)" \
		"duplicates / misrouted" "$(kv dup "$f") / $(kv misrouted "$f") (out of order $(kv out_of_order "$f"))" \
		"CPU (% of one CPU)" "gatewayd $(kv cpu_gatewayd_pct "$f"), chatd $(kv cpu_chatd_pct "$f"), PostgreSQL $(kv cpu_pg_pct "$f"), Redis $(kv cpu_redis_pct "$f"), dmload $(kv client_cpu_pct "$f")" \
		"machine busy" "$(kv machine_busy_pct "$f")% of all $(nproc) CPUs (everything running, not only this stack)" \
		"CPU-µs per DM" "gatewayd $(kv cpu_gatewayd_us_per_dm "$f"), chatd $(kv cpu_chatd_us_per_dm "$f"), PostgreSQL $(kv cpu_pg_us_per_dm "$f")"
	[ "$(kv first_error "$f")" = none ] || echo "  first error: $(kv first_error "$f")"
fi
if [ "$SKIP_LIST" != 1 ]; then
	a=$OUT/list-api.txt a2=$OUT/list-api2.txt aq=$OUT/list-api-qa.txt
	echo
	echo "list: $LIST_CONVS direct conversations x $LIST_MSGS messages for one user (made in ${LIST_SETUP_S}s," \
		"then ANALYZE; the database holds $ROWS); page of $LIST_PAGE rows, $BYTES bytes"
	printf '  %-26s %s\n' \
		"API, default page" "p50 $(kv p50_ms "$a"), p90 $(kv p90_ms "$a"), p99 $(kv p99_ms "$a"), max $(kv max_ms "$a") ms ($(kv requests "$a") requests, $(kv non200 "$a") non-200)" \
		"API, page 2 (before=)" "p50 $(kv p50_ms "$a2"), p99 $(kv p99_ms "$a2"), max $(kv max_ms "$a2") ms ($(kv requests "$a2") requests, $(kv non200 "$a2") non-200)" \
		"API, client TCP_QUICKACK" "p50 $(kv p50_ms "$aq"), p99 $(kv p99_ms "$aq"), max $(kv max_ms "$aq") ms (default page; no delayed ACKs on the client)" \
		"SQL (psql \\timing)" "p50 $SQL_P50, p99 $SQL_P99, max $SQL_MAX ms ($SQL_N calls of chatd's statement)" \
		"inner query (auto_explain)" "${PLAN_EXEC_MS:-?} ms on the 10th call; Index Scan on conversation_members_list_idx: $PLAN_INDEX; Sort nodes: $SORT_NODES"
	echo
	echo "  nested statements run by one call (auto_explain; the 10th call of a session):"
	sed -n 's/^call 10: /    /p' "$OUT/plan-counts.txt"
	echo
	sed 's/^/  /' "$OUT/plan.txt"
fi

echo
echo "goals:"
if [ "$SKIP_LOAD" != 1 ]; then
	echo "  lost DMs: $(kv lost "$OUT/load.txt"); goal 0: $(verdict_zero "$(kv lost "$OUT/load.txt")")"
	echo "  errors + non-200: $(( $(kv non200 "$OUT/load.txt") + $(kv conn_err "$OUT/load.txt") + $(kv unanswered "$OUT/load.txt") )); goal 0:" \
		"$(verdict_zero $(( $(kv non200 "$OUT/load.txt") + $(kv conn_err "$OUT/load.txt") + $(kv unanswered "$OUT/load.txt") )))"
	echo "  DMs/s delivered: $(kv dms_per_s "$OUT/load.txt") of $(kv offered_per_s "$OUT/load.txt") offered:" \
		"$(awk -v a="$(kv dms_per_s "$OUT/load.txt")" -v b="$(kv offered_per_s "$OUT/load.txt")" 'BEGIN { if (a >= 0.99 * b) print "ok (kept up)"; else print "FELL BEHIND" }')"
fi
if [ "$SKIP_LIST" != 1 ]; then
	echo "  list p99 through gatewayd: $(kv p99_ms "$OUT/list-api.txt") ms; goal <= $LIST_GOAL_MS ms:" \
		"$(verdict_le "$(kv p99_ms "$OUT/list-api.txt")" "$LIST_GOAL_MS")"
	if [ "$(verdict_le "$(kv p99_ms "$OUT/list-api.txt")" "$LIST_GOAL_MS")" != ok ] &&
	    [ "$(verdict_le "$(kv p99_ms "$OUT/list-api-qa.txt")" "$LIST_GOAL_MS")" = ok ]; then
		echo "    (with TCP_QUICKACK on the client: p99 $(kv p99_ms "$OUT/list-api-qa.txt") ms: the rest is a" \
			"response over 16 KiB waiting ~40 ms for the client's delayed ACK; see README.md)"
	fi
	echo "  list plan uses conversation_members_list_idx (Index Scan, no Seq Scan): $PLAN_INDEX"
fi
bench_log_report "during the load" gatewayd chatd
echo
echo "raw results: BENCH_KEEP=1 keeps them in the temp directory"
