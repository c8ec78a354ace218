#!/bin/sh
# Installs every Debian package the build, the dev stack, the tests and the
# benchmarks need, and the browser tests' npm packages. Idempotent: only what
# is missing is installed, and apt is not touched when nothing is.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config ca-certificates curl openssl procps iproute2
libevent-dev libhttp-parser-dev libcjson-dev libnng-dev libpq-dev
libhiredis-dev libsodium-dev libinih-dev zlib1g-dev libssl-dev
libcurl4-openssl-dev libcmocka-dev clang libclang-rt-14-dev
postgresql redis-server redis-tools
python3 python3-pytest python3-requests python3-psycopg2 python3-redis
python3-nacl python3-websockets python3-pyotp python3-aiosmtpd
chromium fonts-liberation wrk nginx-light"

command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
	echo "deps: installing the browser tests' npm packages"
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
