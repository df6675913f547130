#!/usr/bin/env bash
# Counts the instructions a server executes per call, with Valgrind's
# callgrind: a measure of cost that the machine's noise barely moves (a
# count, and the ratio of two, repeat within about 2% from run to run,
# where the calls/s of a shared machine drift by a third). Issue 18's targets
# compare them:
#
#   recommend  Recommend on Recommendations as deployed (access log,
#              request ids, metrics, validation, recovery), against the
#              minimal grpc-go server of the same contract (bench/fixedgrpc);
#   home       a guest's homepage: the Marketplace and the Recommendations
#              it calls, together, against the minimal page and its one
#              call (bench/fixedweb and bench/fixedgrpc), together.
#
# The servers under measure run under callgrind, on one core (taskset),
# as bench.sh runs them: default flags, the metrics of an admin port, the
# access log at info to a file. The Catalog, Inventory and the other
# services run natively, and so does the load (`bookshop bench`, 50 calls
# in flight as in bench.sh, on another core). Each measure warms up with
# WARMUP calls, then the counts of its servers are zeroed, CALLS calls
# made, and the counts dumped: the instructions per call are the count
# over CALLS, the garbage collector's share included (a cycle every few
# hundred calls, so CALLS is large enough for their number not to jitter
# the result). Go's asynchronous preemption is off in the servers under
# Valgrind (GODEBUG=asyncpreemptoff=1), whose signal handling it trips,
# and so is the runtime's use of RDTSCP (cpu.rdtscp=off), which Valgrind
# 3.19 reports on AMD processors but cannot run (SIGILL at the start).
# Callgrind counts user space only: the kernel's work for a system call
# is not in the counts (bench.sh's CPU per call has it).
#
# It prints one line per measure (name, instructions per call, each
# process's share) and, with OUT set, writes the figures to that file as
# lines of "name value", for bench.sh. It takes about a minute for
# recommend and three for home.
#
# Settings (environment): BIN, a directory holding bookshop,
# recommendations, marketplace, fixedgrpc and fixedweb already built
# (default: build them), MEASURES ("recommend home"), CALLS (20000),
# WARMUP (2000), CONC (50), SERVER_CPU (0) and LOAD_CPU (1), OUT, and KEEP=1 to keep the work directory, with the
# dumps (callgrind_annotate reads them: the instructions of each
# function).
set -euo pipefail
cd "$(dirname "$0")/.."

CALLS=${CALLS:-20000}
CONC=${CONC:-50}
WARMUP=${WARMUP:-2000}
MEASURES=${MEASURES:-recommend home}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
OUT=${OUT:-}

for tool in valgrind callgrind_control taskset go awk; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "instructions.sh: $tool is missing (valgrind and callgrind_control are in Debian's valgrind, taskset in util-linux)" >&2
		exit 1
	fi
done
if ((CALLS < 1)); then
	echo "instructions.sh: want CALLS of 1 or more, got $CALLS" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bookshop-instructions.XXXXXX")
pids=()
cleanup() {
	stop_servers
	if [[ "${KEEP:-}" == 1 ]]; then
		echo "Logs and callgrind dumps kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# pick_port, port_open, step, wait_ready, calls and stop_servers; a
# server under Valgrind starts some 50 times slower.
. "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
READY_WAIT=120

# native NAME CMD... starts a server natively and on any core (harness.sh's
# serve pins one to SERVER_CPU, the measured ones' core), its output in
# $work/NAME.log.
native() {
	local name=$1
	shift
	"$@" >"$work/$name.log" 2>&1 &
	pids+=("$!")
}

# measured NAME CMD... starts a server under callgrind on SERVER_CPU and
# sets pid to the process's id (Valgrind runs the program in that
# process). Its dumps are $work/cg.PID.N, its output $work/NAME.log.
measured() {
	local name=$1
	shift
	GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off taskset -c "$SERVER_CPU" valgrind --tool=callgrind \
		--callgrind-out-file="$work/cg.%p" "$@" >"$work/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
}



# count N PIDS -- ARGS... zeroes the counts of the processes PIDS, makes
# N calls (calls ARGS...), dumps the counts, and prints each process's
# instructions, in the order of PIDS.
count() {
	local n=$1 p
	shift
	local ps=()
	while [[ "$1" != -- ]]; do
		ps+=("$1")
		shift
	done
	shift
	for p in "${ps[@]}"; do
		callgrind_control -z "$p" >/dev/null 2>&1
	done
	calls "$n" "$@"
	for p in "${ps[@]}"; do
		# Callgrind itself fails now and then on a signal to a Go program
		# (an assertion in its signal handling): then there is no count.
		if ! callgrind_control -d "$p" >/dev/null 2>&1 || ! kill -0 "$p" 2>/dev/null; then
			echo "instructions.sh: process $p stopped under callgrind; its log is in $work" >&2
			KEEP=1
			exit 1
		fi
	done
	for p in "${ps[@]}"; do
		# The newest dump of the process: callgrind numbers them .1, .2, ...
		awk '$1 == "summary:" { print $2 }' "$(printf '%s\n' "$work/cg.$p".* | sort -V | tail -n 1)"
	done
}

# per_call NAME PIDS -- ARGS... prints NAME's instructions per call, of
# the processes PIDS together and of each, over CALLS calls; with OUT set
# it also writes them there.
per_call() {
	local name=$1
	shift
	local ps=()
	while [[ "$1" != -- ]]; do
		ps+=("$1")
		shift
	done
	shift
	local counts
	# Not in a subshell, so that a failure of count ends the script.
	count "$CALLS" "${ps[@]}" -- "$@" >"$work/count.out"
	mapfile -t counts <"$work/count.out"
	local total=0 parts=() i v
	for i in "${!ps[@]}"; do
		v=$((counts[i] / CALLS))
		total=$((total + v))
		parts+=("$v")
	done
	printf '%-14s %10d instructions per call  (%s)\n' "$name" "$total" "${parts[*]}"
	if [[ -n "$OUT" ]]; then
		echo "$name $total" >>"$OUT"
		for i in "${!ps[@]}"; do
			echo "$name-$i ${parts[i]}" >>"$OUT"
		done
	fi
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
[[ -z "$OUT" ]] || : >"$OUT"

home=
for m in $MEASURES; do
	case $m in
	recommend) ;;
	home) home=1 ;;
	*)
		echo "instructions.sh: MEASURES holds $m: want recommend, home or both" >&2
		exit 1
		;;
	esac
done

step "Start the services the measured ones call, natively"
cat_port=$(pick_port)
native catalog "$bin/bookshop" catalog -port "$cat_port" -db "$work/catalog.db"
wait_ready Catalog "$bin/bookshop" health -grpc "127.0.0.1:$cat_port"
declare -A port
if [[ -n "$home" ]]; then
	# The Marketplace's: the homepage asks Inventory (the stock shown) and
	# Promotions (the banner), each answer kept a few seconds, which
	# Valgrind's slowness makes a little more often per page than natively.
	for s in accounts cart inventory payments orders promotions; do
		port[$s]=$(pick_port)
		extra=()
		[[ "$s" == cart ]] && extra=(-catalog-host "127.0.0.1:$cat_port")
		native "$s" "$bin/bookshop" "$s" -port "${port[$s]}" -db "$work/$s.db" "${extra[@]}"
		wait_ready "$s" "$bin/bookshop" health -grpc "127.0.0.1:${port[$s]}"
	done
	port[checkout]=$(pick_port)
	native checkout "$bin/bookshop" checkout -port "${port[checkout]}" -db "$work/checkout.db" -cart-host "127.0.0.1:${port[cart]}" \
		-catalog-host "127.0.0.1:$cat_port" -inventory-host "127.0.0.1:${port[inventory]}" -payments-host "127.0.0.1:${port[payments]}" \
		-orders-host "127.0.0.1:${port[orders]}" -promotions-host "127.0.0.1:${port[promotions]}"
	wait_ready Checkout "$bin/bookshop" health -grpc "127.0.0.1:${port[checkout]}"
fi

step "Start the measured servers under callgrind (as bench.sh runs them: metrics on, the access log to a file)"
recs_port=$(pick_port)
measured recommendations "$bin/recommendations" -port "$recs_port" -catalog-host "127.0.0.1:$cat_port" \
	-admin-addr "127.0.0.1:$(pick_port)"
recs_pid=$pid
fixg_port=$(pick_port)
measured fixedgrpc "$bin/fixedgrpc" -addr "127.0.0.1:$fixg_port"
fixg_pid=$pid
wait_ready Recommendations "$bin/bookshop" health -timeout 10s -grpc "127.0.0.1:$recs_port"
wait_ready fixedgrpc port_open "$fixg_port"
if [[ -n "$home" ]]; then
	web_port=$(pick_port)
	measured marketplace "$bin/marketplace" -port "$web_port" -recommendations-host "127.0.0.1:$recs_port" \
		-catalog-host "127.0.0.1:$cat_port" -accounts-host "127.0.0.1:${port[accounts]}" -cart-host "127.0.0.1:${port[cart]}" \
		-inventory-host "127.0.0.1:${port[inventory]}" -checkout-host "127.0.0.1:${port[checkout]}" -orders-host "127.0.0.1:${port[orders]}" \
		-promotions-host "127.0.0.1:${port[promotions]}" -trusted-proxies 1 -rate-limit 1000000000 -rate-burst 1000000 \
		-admin-addr "127.0.0.1:$(pick_port)"
	web_pid=$pid
	fixw_port=$(pick_port)
	measured fixedweb "$bin/fixedweb" -addr "127.0.0.1:$fixw_port" -recommendations "127.0.0.1:$fixg_port"
	fixw_pid=$pid
	wait_ready Marketplace "$bin/bookshop" health -timeout 10s -http "http://127.0.0.1:$web_port/readyz"
	wait_ready fixedweb port_open "$fixw_port"
fi

for m in $MEASURES; do
	case $m in
	recommend)
		step "Recommend: $WARMUP calls each to warm up, then $CALLS counted"
		calls "$WARMUP" -target recommend -addr "127.0.0.1:$recs_port"
		per_call recommend-ours "$recs_pid" -- -target recommend -addr "127.0.0.1:$recs_port"
		calls "$WARMUP" -target recommend -addr "127.0.0.1:$fixg_port"
		per_call recommend-min "$fixg_pid" -- -target recommend -addr "127.0.0.1:$fixg_port"
		;;
	home)
		step "Homepage: $WARMUP pages each to warm up, then $CALLS counted"
		calls "$WARMUP" -target home -url "http://127.0.0.1:$web_port/"
		per_call home-ours "$web_pid" "$recs_pid" -- -target home -url "http://127.0.0.1:$web_port/"
		calls "$WARMUP" -target home -url "http://127.0.0.1:$fixw_port/"
		per_call home-min "$fixw_pid" "$fixg_pid" -- -target home -url "http://127.0.0.1:$fixw_port/"
		;;
	esac
done
