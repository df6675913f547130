# Sourced by bench.sh, allocs.sh and instructions.sh, after they set
# $work (their run's directory).

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
