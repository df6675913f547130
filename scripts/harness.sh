# The harness of the measuring scripts: sourced by bench.sh, allocs.sh
# and instructions.sh, after they set work (their run's directory), pids
# (an array: the processes they start, which stop_servers stops), bin
# (where bookshop is built), SERVER_CPU and LOAD_CPU, and CONC for calls.

# pick_port prints a TCP port of 127.0.0.1 that nothing listens on and
# that this run has not picked before (remembered in $work/ports: a
# server starts after its port is picked), below Linux's ephemeral range
# (32768 and up, where the loads' own connections take their ports: a
# server could not listen on one that a connection holds).
pick_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		if ! port_open "$p" && ! grep -qx "$p" "$work/ports" 2>/dev/null; then
			echo "$p" >>"$work/ports"
			echo "$p"
			return
		fi
	done
}

# port_open PORT succeeds when something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# step prints what the run does next.
step() { printf '==> %s\n' "$*" >&2; }

# serve NAME CMD... starts a server on SERVER_CPU, its output in
# $work/NAME.log, and sets pid to its process id.
serve() {
	local name=$1
	shift
	taskset -c "$SERVER_CPU" "$@" >"$work/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
}

# wait_ready WHAT CHECK... retries CHECK every 50 ms for READY_WAIT
# seconds (15 unless the script sets it), and then fails the script,
# keeping its work directory.
wait_ready() {
	local what=$1 wait=${READY_WAIT:-15}
	shift
	for _ in $(seq $((wait * 20))); do
		if "$@" >/dev/null 2>&1; then
			return
		fi
		sleep 0.05
	done
	echo "${0##*/}: $what did not get ready within ${wait}s; its log is in $work" >&2
	KEEP=1
	exit 1
}

# calls N ARGS... makes N calls with `bookshop bench` on LOAD_CPU, CONC in
# flight. A failed call fails the script: a count of failures is no
# measure.
calls() {
	local n=$1
	shift
	if ! taskset -c "$LOAD_CPU" "$bin/bookshop" bench -c "$CONC" -n "$n" -d 0 -timeout 1m "$@" >>"$work/bench.out" 2>&1; then
		echo "${0##*/}: calls failed; the output is in $work/bench.out" >&2
		KEEP=1
		exit 1
	fi
}

# stop_servers stops the processes of pids, and waits for them.
stop_servers() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
