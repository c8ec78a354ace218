#!/bin/bash
# Web client benchmark (see README.md): what the first load transfers, how
# soon it paints, and how smoothly a room of 10k messages scrolls.
#
#   bench/web/run.sh [BIN_DIR]        (default build/rel/bin; make bench-web)
#
# Starts a private stack (scripts/stack.sh, temp directory under /tmp, free
# port), registers one user, makes a room and writes BENCH_WEB_MESSAGES
# (10000) messages into it with chat.message_send() in psql (the same
# function POST /api/message/send runs), then runs client_perf.mjs with
# Debian's Chromium. On exit it stops the stack with stack.sh down --purge.
source "$(dirname "$0")/../lib.sh"
BIN_DIR=${1:-$ROOT/build/rel/bin}
MESSAGES=${BENCH_WEB_MESSAGES:-10000}
KEEP=${BENCH_KEEP:-0}

bench_need_psql
bench_tmp web
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	bench_finish "$rc" gatewayd chatd
	exit "$rc"
}
bench_traps
bench_stack_up

PASSWORD='Corr3ct-Horse!battery'
USERNAME=bench_$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
json() { "$PY" -c "import json,sys; print(json.load(sys.stdin)$1)"; }
TOKEN=$(curl -sf -H 'Content-Type: application/json' "$GW/api/auth/register" \
	-d "{\"username\":\"$USERNAME\",\"email\":\"$USERNAME@example.test\",\"password\":\"$PASSWORD\"}" |
	json "['access_token']")
ROOM=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
	"$GW/api/room/create" -d '{"name":"bench-scroll"}' | json "['id']")
USER_ID=$(curl -sf -H "Authorization: Bearer $TOKEN" "$GW/api/auth/me" | json "['id']")

note "writing $MESSAGES messages into room $ROOM"
psql_q -c "SELECT count(*) FROM generate_series(1, $MESSAGES) i,
	LATERAL chat.message_send('$ROOM', '$USER_ID',
	'Message ' || i || ': ' || repeat('lorem ipsum dolor sit amet ', 1 + i % 7) ||
	CASE WHEN i % 5 = 0 THEN E'\nwith a **second** line and \`code\`' ELSE '' END,
	'text', NULL)" >/dev/null

cd "$ROOT/tests/browser"
node "$HERE/client_perf.mjs" "$GW" "$USERNAME" "$PASSWORD" "$ROOM" "$MESSAGES"
