#!/usr/bin/env bash
# Measures what a server allocates per call, and how often its garbage
# collector runs for it: the bytes and objects each call leaves to the
# collector, and the collections per 10,000 calls. Those are what decide
# how much of a server's CPU the collector takes (docs/performance.md),
# and, unlike calls/s on a shared machine, they barely move from run to
# run. The measures are issue 18's:
#
#   recommend  Recommend on Recommendations as deployed (access log,
#              request ids, metrics, validation, recovery), against the
#              minimal grpc-go server of the same contract (bench/fixedgrpc);
#   home       a guest's homepage on the Marketplace, and the Recommend
#              call it makes, against the minimal page (bench/fixedweb)
#              and its call to fixedgrpc.
#
# Every server runs natively, as bench.sh runs them (default flags, the
# metrics of an admin port, the access log at info to a file), on
# SERVER_CPU, and the load (`bookshop bench`, CONC in flight) on LOAD_CPU.
# Each measure warms up with WARMUP calls, reads the counters of its
# servers, makes CALLS calls, and reads them again: the services' from
# their /metrics (the Go runtime's go_memstats_alloc_bytes_total,
# go_memstats_mallocs_total, go_gc_duration_seconds_count and
# go_memstats_next_gc_bytes), the comparison servers' from the line each
# writes on SIGUSR1 (bench/internal/heapstats). What a scrape of /metrics
# itself allocates is measured with no load, and taken off.
#
# It prints, per measure and server: bytes and objects allocated per
# call, collections per 10,000 calls, the bytes allocated between two
# collections (the heap's goal less what the last one found live, and
# less what the collector expects to be allocated while it marks: a
# larger live heap makes it smaller), and the heap's goal at the end.
# It takes about half a minute.
#
# Settings (environment): BIN, a directory holding bookshop,
# recommendations, marketplace, fixedgrpc and fixedweb already built
# (default: build them), MEASURES ("recommend home"), CALLS (20000),
# WARMUP (5000), CONC (50), SERVER_CPU (0), LOAD_CPU (1), PROFILE=1 to
# save the services' allocation profiles (/debug/pprof/allocs) before and
# after each measure (see profile;
# GODEBUG=memprofilerate=1 in the environment makes them exact, and the
# servers slower), KEEP=1 to keep the work directory, with the logs.
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=${CALLS:-20000}
CONC=${CONC:-50}
WARMUP=${WARMUP:-5000}
MEASURES=${MEASURES:-recommend home}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

for tool in curl taskset go awk; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "allocs.sh: $tool is missing (taskset is in Debian's util-linux)" >&2
		exit 1
	fi
done
if ((CALLS < 1)); then
	echo "allocs.sh: want CALLS of 1 or more, got $CALLS" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bookshop-allocs.XXXXXX")
pids=()
cleanup() {
	stop_servers
	if [[ "${KEEP:-}" == 1 || "${PROFILE:-}" == 1 ]]; then
		echo "Logs and profiles kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# pick_port, port_open, step, serve, wait_ready, calls and stop_servers.
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"




# snapshot SERVER prints the heap counters of SERVER: "bytes objects
# cycles goal". A SERVER is "metrics:ADDR", a service's admin address, or
# "signal:PID:LOG", a comparison server and its output.
snapshot() {
	local kind=${1%%:*} rest=${1#*:}
	case $kind in
	metrics)
		curl -fsS "http://$rest/metrics" | awk '
			$1 == "go_memstats_alloc_bytes_total" { b = $2 }
			$1 == "go_memstats_mallocs_total" { o = $2 }
			$1 == "go_gc_duration_seconds_count" { c = $2 }
			$1 == "go_memstats_next_gc_bytes" { g = $2 }
			END { printf "%.0f %.0f %.0f %.0f\n", b, o, c, g }'
		;;
	signal)
		local p=${rest%%:*} log=${rest#*:} n
		n=$(grep -c '^heapstats ' "$log" || true)
		kill -USR1 "$p"
		local got=""
		for _ in $(seq 200); do
			if (($(grep -c '^heapstats ' "$log" || true) > n)); then
				got=1
				break
			fi
			sleep 0.01
		done
		if [[ -z "$got" ]]; then
			echo "allocs.sh: process $p wrote no heapstats line within 2s of SIGUSR1; its output is in $log" >&2
			exit 1
		fi
		grep '^heapstats ' "$log" | tail -n 1 | awk '{
			for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			printf "%.0f %.0f %.0f %.0f\n", v["allocs_bytes"], v["allocs_objects"], v["gc_cycles"], v["heap_goal_bytes"]
		}'
		;;
	esac
}

# scrape_cost ADDR prints what one scrape of a service's /metrics
# allocates, "bytes objects": the least of three pairs of scrapes with no
# load between them.
scrape_cost() {
	local i a b best=""
	for i in 1 2 3; do
		a=$(snapshot "metrics:$1")
		b=$(snapshot "metrics:$1")
		best=$(printf '%s\n%s\n' "$a" "$b" | awk -v best="$best" '
			NR == 1 { b0 = $1; o0 = $2 } NR == 2 { d = $1 - b0; e = $2 - o0 }
			END { split(best, x, " "); if (best == "" || d < x[1]) print d, e; else print best }')
	done
	echo "$best"
}

# measure NAME SERVERS... -- ARGS... warms up, reads the counters of each
# SERVER (see snapshot), makes CALLS calls (calls ARGS...), reads them
# again and prints a line per server: its bytes and objects per call,
# collections per 10,000 calls, and its heap's goal.
measure() {
	local name=$1
	shift
	local servers=()
	while [[ "$1" != -- ]]; do
		servers+=("$1")
		shift
	done
	shift
	calls "$WARMUP" "$@"
	local before=() after=() s i
	profile "$name" before "${servers[@]}"
	for s in "${servers[@]}"; do
		before+=("$(snapshot "$s")")
	done
	calls "$CALLS" "$@"
	for s in "${servers[@]}"; do
		after+=("$(snapshot "$s")")
	done
	profile "$name" after "${servers[@]}"
	for i in "${!servers[@]}"; do
		s=${servers[i]}
		local cost="0 0" label
		if [[ $s == metrics:* ]]; then
			cost=${scrape[${s#metrics:}]}
		fi
		label=${labels[$s]}
		echo "${before[i]} ${after[i]} $cost" | awk -v n="$CALLS" -v name="$name" -v label="$label" '{
			b = $5 - $1 - $9; c = $7 - $3
			printf "%-10s %-16s %6.0f B/call %6.1f objects/call %5.1f GC/10k calls %5.2f MB a cycle  heap goal %4.1f MB\n",
				name, label, b / n, ($6 - $2 - $10) / n, c * 10000 / n, (c > 0) ? b / c / 1e6 : 0, $8 / 1e6
		}'
	done
}

# profile NAME WHEN SERVERS... saves, with PROFILE=1, the allocation
# profile of each service among SERVERS as $work/NAME-SERVICE.WHEN.pb.gz:
# the calls' own are the difference of before and after
# (go tool pprof -diff_base NAME-SERVICE.before.pb.gz NAME-SERVICE.after.pb.gz).
profile() {
	local name=$1 when=$2 s
	shift 2
	[[ "${PROFILE:-}" == 1 ]] || return 0
	for s in "$@"; do
		if [[ $s == metrics:* ]]; then
			curl -fsS -o "$work/$name-${labels[$s]}.$when.pb.gz" "http://${s#metrics:}/debug/pprof/allocs"
		fi
	done
}

if [[ -n "${BIN:-}" ]]; then
	bin=$BIN
	for b in bookshop recommendations marketplace fixedgrpc fixedweb; do
		if [[ ! -x "$bin/$b" ]]; then
			echo "$(basename "$0"): BIN=$bin has no $b: build it with go build -o \"\$BIN/\" ./cmd/bookshop ./cmd/recommendations ./cmd/marketplace ./bench/fixedgrpc ./bench/fixedweb" >&2
			exit 1
		fi
	done
else
	step "Build"
	bin=$work/bin
	mkdir -p "$bin"
	go build -o "$bin/" ./cmd/bookshop ./cmd/recommendations ./cmd/marketplace ./bench/fixedgrpc ./bench/fixedweb
fi

home=
for m in $MEASURES; do
	case $m in
	recommend) ;;
	home) home=1 ;;
	*)
		echo "allocs.sh: MEASURES holds $m: want recommend, home or both" >&2
		exit 1
		;;
	esac
done

step "Start the servers on CPU $SERVER_CPU (the load runs on CPU $LOAD_CPU)"
cat_port=$(pick_port)
serve catalog "$bin/bookshop" catalog -port "$cat_port" -db "$work/catalog.db"
wait_ready Catalog "$bin/bookshop" health -grpc "127.0.0.1:$cat_port"
declare -A port
if [[ -n "$home" ]]; then
	# The Marketplace's: the homepage asks Inventory (the stock shown) and
	# Promotions (the banner), each answer kept a few seconds.
	for s in accounts cart inventory payments orders promotions; do
		port[$s]=$(pick_port)
		extra=()
		[[ "$s" == cart ]] && extra=(-catalog-host "127.0.0.1:$cat_port")
		serve "$s" "$bin/bookshop" "$s" -port "${port[$s]}" -db "$work/$s.db" "${extra[@]}"
		wait_ready "$s" "$bin/bookshop" health -grpc "127.0.0.1:${port[$s]}"
	done
	port[checkout]=$(pick_port)
	serve checkout "$bin/bookshop" checkout -port "${port[checkout]}" -db "$work/checkout.db" -cart-host "127.0.0.1:${port[cart]}" \
		-catalog-host "127.0.0.1:$cat_port" -inventory-host "127.0.0.1:${port[inventory]}" -payments-host "127.0.0.1:${port[payments]}" \
		-orders-host "127.0.0.1:${port[orders]}" -promotions-host "127.0.0.1:${port[promotions]}"
	wait_ready Checkout "$bin/bookshop" health -grpc "127.0.0.1:${port[checkout]}"
fi

declare -A labels scrape
recs_port=$(pick_port)
recs_admin=127.0.0.1:$(pick_port)
serve recommendations "$bin/recommendations" -port "$recs_port" -catalog-host "127.0.0.1:$cat_port" \
	-admin-addr "$recs_admin"
recs=metrics:$recs_admin
labels[$recs]=recommendations
fixg_port=$(pick_port)
serve fixedgrpc "$bin/fixedgrpc" -addr "127.0.0.1:$fixg_port"
fixg=signal:$pid:$work/fixedgrpc.log
labels[$fixg]=fixedgrpc
wait_ready Recommendations "$bin/bookshop" health -grpc "127.0.0.1:$recs_port"
wait_ready "Recommendations' admin port" curl -fsS "http://$recs_admin/metrics"
wait_ready fixedgrpc port_open "$fixg_port"
if [[ -n "$home" ]]; then
	web_port=$(pick_port)
	web_admin=127.0.0.1:$(pick_port)
	serve marketplace "$bin/marketplace" -port "$web_port" -recommendations-host "127.0.0.1:$recs_port" \
		-catalog-host "127.0.0.1:$cat_port" -accounts-host "127.0.0.1:${port[accounts]}" -cart-host "127.0.0.1:${port[cart]}" \
		-inventory-host "127.0.0.1:${port[inventory]}" -checkout-host "127.0.0.1:${port[checkout]}" -orders-host "127.0.0.1:${port[orders]}" \
		-promotions-host "127.0.0.1:${port[promotions]}" -trusted-proxies 1 -rate-limit 1000000000 -rate-burst 1000000 \
		-admin-addr "$web_admin"
	web=metrics:$web_admin
	labels[$web]=marketplace
	fixw_port=$(pick_port)
	serve fixedweb "$bin/fixedweb" -addr "127.0.0.1:$fixw_port" -recommendations "127.0.0.1:$fixg_port"
	fixw=signal:$pid:$work/fixedweb.log
	labels[$fixw]=fixedweb
	wait_ready Marketplace "$bin/bookshop" health -http "http://127.0.0.1:$web_port/readyz"
	wait_ready "Marketplace's admin port" curl -fsS "http://$web_admin/metrics"
	wait_ready fixedweb port_open "$fixw_port"
fi
scrape[$recs_admin]=$(scrape_cost "$recs_admin")
[[ -z "$home" ]] || scrape[$web_admin]=$(scrape_cost "$web_admin")

step "$WARMUP calls to warm up, then $CALLS measured, $CONC in flight, per measure"
for m in $MEASURES; do
	case $m in
	recommend)
		measure recommend "$recs" -- -target recommend -addr "127.0.0.1:$recs_port"
		measure recommend "$fixg" -- -target recommend -addr "127.0.0.1:$fixg_port"
		;;
	home)
		measure home "$web" "$recs" -- -target home -url "http://127.0.0.1:$web_port/"
		measure home "$fixw" "$fixg" -- -target home -url "http://127.0.0.1:$fixw_port/"
		;;
	esac
done
