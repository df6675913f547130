#!/usr/bin/env bash
# A throwaway PostgreSQL cluster, for scripts/test.sh and scripts/bench.sh:
#
#   scripts/postgres.sh bin                     prints the directory of the server's programs
#   scripts/postgres.sh start DIR [NAME=VALUE…] starts a cluster in DIR; prints its URL
#   scripts/postgres.sh stop DIR                stops it, and removes DIR
#
# DIR is a new, empty directory of the caller's (mktemp -d), outside any
# directory that only root may enter: as root, the cluster is run by the
# postgres user (initdb refuses root), which Debian's package makes. The
# cluster listens on 127.0.0.1 only, on a free port, with trust for
# local users, and the server settings NAME=VALUE given (such as fsync=off
# for tests); its log is DIR/server.log. Debian's postgresql is installed
# when no server is found. Run under taskset, the server keeps its CPUs.
set -euo pipefail

# pg_bin prints the bin directory of the newest PostgreSQL installed.
pg_bin() { find /usr/lib/postgresql -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname; }

# bin prints pg_bin, after installing Debian's postgresql if needed.
bin() {
	local dir sudo=""
	dir="$(pg_bin)"
	if [[ -z "$dir" ]]; then
		if ! command -v apt-get >/dev/null 2>&1; then
			echo "postgres.sh: no PostgreSQL server; install it with your package manager and run again" >&2
			exit 1
		fi
		echo "installing postgresql (a throwaway server of the script's own)" >&2
		if [[ "$(id -u)" -ne 0 ]]; then sudo="sudo"; fi
		$sudo apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
		dir="$(pg_bin)"
		if [[ -z "$dir" ]]; then
			echo "postgres.sh: postgresql installed, but no initdb under /usr/lib/postgresql" >&2
			exit 1
		fi
	fi
	echo "$dir"
}

# as_pg runs a command as the cluster's owner: the postgres user as root.
as_pg() {
	if [[ "$(id -u)" -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local dir=$1 pgbin port opts="" setting
	shift
	pgbin="$(bin)"
	if [[ "$(id -u)" -eq 0 ]]; then chown postgres "$dir"; fi
	as_pg "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	# A free port: one that nothing answers on (bash's /dev/tcp).
	for _ in $(seq 20); do
		port=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768 and up)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	done
	for setting in "$@"; do opts+=" -c $setting"; done
	as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300$opts" \
		start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, in $dir (removed when stopped)" >&2
	echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

stop() {
	local dir=$1
	if [[ -d "$dir/data" ]]; then
		as_pg "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

case "${1:-}" in
bin) bin ;;
start) [[ $# -ge 2 ]] || { echo "usage: postgres.sh start DIR [NAME=VALUE…]" >&2; exit 2; }; shift; start "$@" ;;
stop) [[ $# -eq 2 ]] || { echo "usage: postgres.sh stop DIR" >&2; exit 2; }; stop "$2" ;;
*) echo "usage: postgres.sh bin | start DIR [NAME=VALUE…] | stop DIR" >&2; exit 2 ;;
esac
