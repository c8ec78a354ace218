#!/bin/bash
# The whole suite on one machine, for development and tests: a private
# PostgreSQL cluster, Redis and coturn (TURN/STUN), the three back-end
# daemons and gatewayd, all under one run directory, bound to 127.0.0.1.
#
#   stack.sh up   RUN_DIR HTTP_PORT BIN_DIR   start in the background; returns
#                                             once /health answers 200
#   stack.sh run  RUN_DIR HTTP_PORT BIN_DIR   the same in the foreground;
#                                             Ctrl-C stops everything
#   stack.sh down RUN_DIR [--purge]           stop exactly that stack (and
#                                             delete its run directory)
#   stack.sh start-daemon RUN_DIR NAME        (re)start one daemon of a stack
#
# RUN_DIR holds env (the chosen ports, among them each back-end daemon's
# loopback metrics port: AUTHD_METRICS_PORT...), etc/ (generated configs, the
# token key pair and the TURN secret), pg/, redis/, turn/, sock/ (IPC
# sockets), log/ and pids/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DAEMONS="authd chatd voiced"
HEALTH_WAIT_S=${HEALTH_WAIT_S:-90}

die() { echo "stack: $*" >&2; exit 1; }

# N distinct free ports on 127.0.0.1 other than AVOID, one per line: all
# are held while they are chosen, so that no two of one stack are the same.
free_ports() {	# N AVOID
	/usr/bin/python3 -c 'import socket,sys
n, avoid, held, ports = int(sys.argv[1]), int(sys.argv[2]), [], []
while len(ports) < n:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    if s.getsockname()[1] != avoid:
        ports.append(s.getsockname()[1])
print("\n".join(map(str, ports)))' "$1" "$2"
}

port_in_use() {
	/usr/bin/python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1",int(sys.argv[1])))==0 else 1)' "$1"
}

# A TURN listening port and a relay port range above it, all free for UDP
# and TCP on 127.0.0.1: "PORT MIN MAX". They are taken below the kernel's
# ephemeral range, so that the outgoing connections of the machine (and
# free_ports of other stacks) do not race for them.
turn_ports() {
	/usr/bin/python3 - "$1" <<-'EOF'
	import random, socket, sys
	n = int(sys.argv[1])
	try:
	    top = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
	except (OSError, ValueError, IndexError):
	    top = 32768
	if top - n <= 10000:
	    top = 65536
	def free(port):
	    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
	        with socket.socket(socket.AF_INET, kind) as s:
	            try:
	                s.bind(("127.0.0.1", port))
	            except OSError:
	                return False
	    return True
	for _ in range(100):
	    base = random.randrange(10000, top - n) & ~1
	    if all(free(p) for p in range(base, base + n)):
	        print(base, base + 2, base + n - 1)
	        sys.exit(0)
	sys.exit("no free range of %d ports for coturn" % n)
	EOF
}

pg_bin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	[ -n "$d" ] || die "PostgreSQL is not installed (run make deps)"
	echo "$d"
}

# PostgreSQL refuses to run as root: as root, it runs as the postgres user.
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Alive and not a zombie: a daemon whose parent shell has exited waits for
# PID 1 to reap it, which may take a while.
proc_alive() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
	[ -n "$state" ] && [ "$state" != Z ]
}
pid_alive() { [ -f "$1" ] && proc_alive "$(cat "$1")"; }

# The cluster's directory must be reachable by the postgres user; when the
# run directory is not (e.g. under /root), the cluster lives in /var/tmp and
# RUN_DIR/pg points to it.
pg_dir_setup() {
	local run=$1 pgdir=$1/pg
	if [ -L "$pgdir" ] || [ -d "$pgdir" ]; then return; fi
	mkdir -p "$pgdir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$pgdir"
		if ! runuser -u postgres -- test -w "$pgdir"; then
			rmdir "$pgdir"
			local alt
			alt=$(mktemp -d /var/tmp/enclavr-pg.XXXXXX)
			chown postgres: "$alt"
			ln -s "$alt" "$pgdir"
		fi
	fi
}

pg_start() {
	local run=$1 bin data
	bin=$(pg_bin)
	pg_dir_setup "$run"
	data=$(readlink -f "$run/pg")	# the postgres user may not traverse $run
	if [ ! -f "$data/PG_VERSION" ]; then
		as_pg "$bin/initdb" -D "$data" -U enclavr --auth=trust -E UTF8 \
			--locale=C.UTF-8 >"$run/log/initdb.log" 2>&1 || die "initdb failed: see $run/log/initdb.log"
		cat >>"$data/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		unix_socket_directories = ''
		max_connections = 100
		shared_buffers = 64MB
		EOF
	fi
	ln -sfn "$data/postgres.log" "$run/log/postgres.log"
	as_pg "$bin/pg_ctl" -D "$data" -l "$data/postgres.log" -w -t 60 \
		-o "-p $PG_PORT" start >/dev/null || die "PostgreSQL did not start: see $run/log/postgres.log"
	"$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U enclavr -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'enclavr'" | grep -q 1 ||
		"$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U enclavr enclavr
}

redis_start() {
	local run=$1
	mkdir -p "$run/redis"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$run/redis" \
		--save "" --appendonly no --daemonize yes --pidfile "$run/pids/redis.pid" \
		--logfile "$run/log/redis.log" || die "Redis did not start"
}

# This stack's TURN REST API secret, shared by voiced ([turn] secret_file)
# and coturn (static-auth-secret): 32 random bytes in hex.
turn_secret() {
	local etc=$1
	[ -s "$etc/turn.secret" ] && return
	(umask 077; openssl rand -hex 32 >"$etc/turn.secret")
}

# coturn for this stack: 127.0.0.1 only, the shared-secret scheme,
# plain UDP/TCP (no TLS or DTLS listeners), no CLI. allow-loopback-peers
# lets the relays and peers be on 127.0.0.1, which every test needs and
# production must not have (docs/turn.md, etc/turnserver.conf).
turn_config() {
	local run=$1
	(umask 077; cat >"$run/etc/turnserver.conf") <<-EOF
	# Generated by scripts/stack.sh for this run directory.
	listening-ip=127.0.0.1
	relay-ip=127.0.0.1
	listening-port=$TURN_PORT
	min-port=$TURN_MIN_PORT
	max-port=$TURN_MAX_PORT
	use-auth-secret
	static-auth-secret=$(cat "$run/etc/turn.secret")
	realm=enclavr.local
	fingerprint
	no-tls
	no-dtls
	no-cli
	no-rfc5780
	no-stun-backward-compatibility
	no-software-attribute
	no-multicast-peers
	allow-loopback-peers
	userdb=$run/turn/turndb
	log-file=stdout
	simple-log
	pidfile=$run/pids/turnserver.pid
	EOF
}

# turnserver runs in the foreground as the user running this script (like
# Redis), with -c so that no system file (/etc/turnserver.conf) is read.
turn_start() {
	local run=$1 i pid
	command -v turnserver >/dev/null 2>&1 || die "coturn is not installed (run make deps)"
	mkdir -p "$run/turn"
	setsid turnserver -c "$run/etc/turnserver.conf" >>"$run/log/turnserver.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$run/pids/turnserver.pid"
	for ((i = 0; i < 100; i++)); do
		port_in_use "$TURN_PORT" && return 0
		proc_alive "$pid" || break
		sleep 0.1
	done
	tail -n 20 "$run/log/turnserver.log" >&2
	die "coturn did not start on port $TURN_PORT: see $run/log/turnserver.log"
}

# An Ed25519 key pair in libsodium's layout: the public key (32 bytes) for
# gatewayd, the secret key (seed + public key, 64 bytes) for authd.
token_keys() {
	local etc=$1
	[ -f "$etc/token.key" ] && return
	local pem=$etc/token.pem
	(umask 077; openssl genpkey -algorithm ed25519 -out "$pem" 2>/dev/null)
	openssl pkey -in "$pem" -pubout -outform DER | tail -c 32 >"$etc/pub.bin"
	openssl pkey -in "$pem" -outform DER | tail -c 32 >"$etc/seed.bin"
	base64 -w0 "$etc/pub.bin" >"$etc/token.pub"
	(umask 077; cat "$etc/seed.bin" "$etc/pub.bin" | base64 -w0 >"$etc/token.key")
	rm -f "$pem" "$etc/pub.bin" "$etc/seed.bin"
}

write_configs() {
	local run=$1 d
	mkdir -p "$run/etc"
	token_keys "$run/etc"
	turn_secret "$run/etc"
	turn_config "$run"
	for d in $DAEMONS; do
		local sqldir=${d%d}
		[ "$d" = voiced ] && sqldir=voice
		[ "$d" = authd ] && sqldir=auth
		cat >"$run/etc/$d.conf" <<-EOF
		# Generated by scripts/stack.sh for this run directory.
		[log]
		level = ${LOG_LEVEL:-info}
		[ipc]
		listen = ipc://$run/sock/$d.rep
		publish = ipc://$run/sock/$d.pub
		drain_timeout_ms = 5000
		[database]
		conninfo = host=127.0.0.1 port=$PG_PORT dbname=enclavr user=enclavr
		migrations_dir = $ROOT/sql/$sqldir
		[redis]
		host = 127.0.0.1
		port = $REDIS_PORT
		[control]
		socket = $run/sock/$d.ctl
		[metrics]
		listen = 127.0.0.1:$(metrics_port "$d")
		EOF
	done
	cat >>"$run/etc/voiced.conf" <<-EOF
	[turn]
	secret_file = $run/etc/turn.secret
	host = 127.0.0.1
	port = $TURN_PORT
	EOF
	cat >>"$run/etc/authd.conf" <<-EOF
	[tokens]
	signing_key_file = $run/etc/token.key
	EOF
	# Mail goes to SMTP_URL (e.g. a test sink) when it is set; links in
	# mails point at this stack's gatewayd.
	if [ -n "${SMTP_URL:-}" ]; then
		cat >>"$run/etc/authd.conf" <<-EOF
		[mail]
		smtp_url = $SMTP_URL
		link_base = http://127.0.0.1:$HTTP_PORT
		EOF
	fi
	cat >"$run/etc/gatewayd.conf" <<-EOF
	# Generated by scripts/stack.sh for this run directory.
	[log]
	level = ${LOG_LEVEL:-info}
	[http]
	listen = 127.0.0.1
	port = $HTTP_PORT
	web_root = $ROOT/web
	request_timeout_ms = ${REQUEST_TIMEOUT_MS:-10000}
	drain_timeout_ms = 5000
	cors_origins = http://127.0.0.1:$HTTP_PORT, http://localhost:$HTTP_PORT
	[auth]
	public_key_file = $run/etc/token.pub
	[upstream]
	authd = ipc://$run/sock/authd.rep
	authd_events = ipc://$run/sock/authd.pub
	chatd = ipc://$run/sock/chatd.rep
	chatd_events = ipc://$run/sock/chatd.pub
	voiced = ipc://$run/sock/voiced.rep
	voiced_events = ipc://$run/sock/voiced.pub
	[redis]
	host = 127.0.0.1
	port = $REDIS_PORT
	[ratelimit]
	auth_per_minute = ${RATE_AUTH_PER_MINUTE:-600}
	[control]
	socket = $run/sock/gatewayd.ctl
	[metrics]
	listen = 127.0.0.1:$GATEWAYD_METRICS_PORT
	EOF
}

# The metrics port chosen for daemon $1 (AUTHD_METRICS_PORT...).
metrics_port() {
	local var
	var=$(echo "$1" | tr '[:lower:]' '[:upper:]')_METRICS_PORT
	echo "${!var}"
}

start_daemon() {
	local run=$1 name=$2
	# shellcheck disable=SC1091
	. "$run/env"
	pid_alive "$run/pids/$name.pid" && die "$name is already running"
	setsid "$BIN_DIR/$name" -f "$run/etc/$name.conf" >>"$run/log/$name.log" 2>&1 </dev/null &
	echo $! >"$run/pids/$name.pid"
}

wait_health() {
	local run=$1 i
	for ((i = 0; i < HEALTH_WAIT_S * 4; i++)); do
		if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$HTTP_PORT/health" 2>/dev/null; then
			return 0
		fi
		for d in $DAEMONS gatewayd; do
			pid_alive "$run/pids/$d.pid" || { tail -n 20 "$run/log/$d.log" >&2; die "$d exited"; }
		done
		sleep 0.25
	done
	curl -sS --max-time 2 "http://127.0.0.1:$HTTP_PORT/health" >&2 || true
	die "/health did not answer 200 within ${HEALTH_WAIT_S}s (logs in $run/log)"
}

up() {
	local run=$1
	HTTP_PORT=$2
	BIN_DIR=$3
	mkdir -p "$run"
	run=$(cd "$run" && pwd)
	[ -f "$run/pids/gatewayd.pid" ] && pid_alive "$run/pids/gatewayd.pid" &&
		die "a stack is already running in $run (make down RUN_DIR=$run)"
	port_in_use "$HTTP_PORT" && die "port $HTTP_PORT is in use (set HTTP_PORT=...)"
	mkdir -p "$run/log" "$run/pids" "$run/sock"
	rm -f "$run"/sock/*
	# A failed start stops whatever it had started.
	trap '[ $? = 0 ] || down "'"$run"'" >/dev/null 2>&1 || true' EXIT
	local ports
	mapfile -t ports < <(free_ports 6 "$HTTP_PORT")
	PG_PORT=${ports[0]}
	REDIS_PORT=${ports[1]}
	read -r TURN_PORT TURN_MIN_PORT TURN_MAX_PORT < <(turn_ports 1002) ||
		die "no free ports for coturn"
	cat >"$run/env" <<-EOF
	HTTP_PORT=$HTTP_PORT
	PG_PORT=$PG_PORT
	REDIS_PORT=$REDIS_PORT
	TURN_PORT=$TURN_PORT
	TURN_MIN_PORT=$TURN_MIN_PORT
	TURN_MAX_PORT=$TURN_MAX_PORT
	BIN_DIR=$BIN_DIR
	EOF
	local i=2
	for d in $DAEMONS gatewayd; do
		echo "$(echo "$d" | tr '[:lower:]' '[:upper:]')_METRICS_PORT=${ports[i]}" >>"$run/env"
		i=$((i + 1))
	done
	# shellcheck disable=SC1091
	. "$run/env"
	write_configs "$run"
	pg_start "$run"
	redis_start "$run"
	turn_start "$run"
	for d in $DAEMONS gatewayd; do start_daemon "$run" "$d"; done
	wait_health "$run"
	trap - EXIT
	echo "Enclavr is up at http://127.0.0.1:$HTTP_PORT/ (run directory $run)"
}

stop_pid() {
	local pidfile=$1 i
	pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
	local pid
	pid=$(cat "$pidfile")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		proc_alive "$pid" || break
		sleep 0.05
	done
	if proc_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
	rm -f "$pidfile"
}

down() {
	local run=$1
	[ -d "$run" ] || die "no run directory $run"
	run=$(cd "$run" && pwd)
	for d in gatewayd $DAEMONS; do stop_pid "$run/pids/$d.pid"; done
	stop_pid "$run/pids/redis.pid"
	stop_pid "$run/pids/turnserver.pid"
	if [ -f "$run/pg/postmaster.pid" ]; then
		as_pg "$(pg_bin)/pg_ctl" -D "$(readlink -f "$run/pg")" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [ "${2:-}" = --purge ]; then
		[ -L "$run/pg" ] && rm -rf "$(readlink -f "$run/pg")"
		rm -rf "$run"
		echo "Enclavr in $run is removed"
		return
	fi
	echo "Enclavr in $run is stopped"
}

run_fg() {
	local run=$1
	up "$@"
	run=$(cd "$run" && pwd)
	echo "Press Ctrl-C to stop. Logs follow."
	tail -n 0 -F "$run"/log/*.log &
	TAIL_PID=$!
	trap 'echo; kill "$TAIL_PID" 2>/dev/null || true; down "$run"; exit 0' INT TERM
	wait
}

cmd=${1:-}
shift || true
case "$cmd" in
up) [ $# = 3 ] || die "usage: stack.sh up RUN_DIR HTTP_PORT BIN_DIR"; up "$@" ;;
run) [ $# = 3 ] || die "usage: stack.sh run RUN_DIR HTTP_PORT BIN_DIR"; run_fg "$@" ;;
down) [ $# -ge 1 ] || die "usage: stack.sh down RUN_DIR [--purge]"; down "$1" "${2:-}" ;;
start-daemon) [ $# = 2 ] || die "usage: stack.sh start-daemon RUN_DIR NAME"; start_daemon "$(cd "$1" && pwd)" "$2" ;;
*) die "usage: stack.sh up|run|down|start-daemon ..." ;;
esac
