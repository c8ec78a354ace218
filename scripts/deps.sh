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
postgresql redis-server redis-tools coturn prometheus
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
	# The stacks run a private turnserver of their own (scripts/stack.sh)
	# and nothing uses a system-wide one, but Debian's coturn package
	# enables coturn.service and, under systemd, starts it on port 3478 (a
	# start that fails, say on a busy port, fails the install). Likewise
	# prometheus.service (port 9090): the metrics test runs its own
	# prometheus binary. Where no policy-rc.d decides already, a temporary
	# one refuses those starts, and the units are disabled afterwards.
	policy=""
	case " $missing " in
	*" coturn "* | *" prometheus "*)
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			policy=/usr/sbin/policy-rc.d
			# shellcheck disable=SC2016 # "$1" is for the written script
			printf '#!/bin/sh\n# Temporary, from enclavr scripts/deps.sh.\ncase "$1" in coturn|coturn.service|prometheus|prometheus.service) exit 101 ;; esac\nexit 0\n' |
				$SUDO tee "$policy" >/dev/null
			$SUDO chmod 755 "$policy"
			trap '$SUDO rm -f "$policy"' EXIT
		fi ;;
	*) ;;
	esac
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
	if [ -n "$policy" ]; then
		$SUDO rm -f "$policy"
		trap - EXIT
	fi
	if [ -d /run/systemd/system ]; then
		for unit in coturn prometheus; do
			case " $missing " in
			*" $unit "*)
				$SUDO systemctl disable --now "$unit.service" >/dev/null 2>&1 || true ;;
			*) ;;
			esac
		done
	fi
fi

if [ ! -d tests/browser/node_modules/playwright-core ]; then
	echo "deps: installing the browser tests' npm packages"
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
