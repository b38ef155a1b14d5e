# deploy/lib/common.sh: progress lines, failure handling and process helpers
# shared by every part of deploy/stack.
# shellcheck shell=bash

# step_begin NAME: remember the component and the start time of a step.
step_begin() {
	STEP_NAME="$1"
	STEP_T0="$(date +%s%N)"
}

# step_elapsed: seconds since step_begin, one decimal.
step_elapsed() {
	local now
	now="$(date +%s%N)"
	awk -v d="$(( (now - STEP_T0) / 1000000 ))" 'BEGIN { printf "%.1fs", d / 1000 }'
}

# step_ok MESSAGE: the one progress line of a finished step.
step_ok() {
	printf '==> %-9s %s (%s)\n' "${STEP_NAME}:" "$*" "$(step_elapsed)"
}

# note MESSAGE: an extra line under the current step.
note() {
	printf '    %s\n' "$*"
}

# die MESSAGE [LOG]: stop with a clear message, the log to read, exit 1.
die() {
	printf 'error: %s%s\n' "${STEP_NAME:+${STEP_NAME}: }" "$1" >&2
	if [[ -n "${2:-}" ]]; then
		if [[ -s "$2" ]]; then
			printf -- '----- last lines of %s -----\n' "$2" >&2
			tail -n 15 "$2" >&2
			printf -- '-----\n' >&2
		fi
		printf 'see the log: %s\n' "$2" >&2
	fi
	exit 1
}

# proc_alive PID: true if PID exists and is not a zombie.
proc_alive() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)"
	[[ "$state" != "Z" ]]
}

# pidfile_pid FILE: print the pid stored in FILE if that process is alive.
pidfile_pid() {
	local pid
	[[ -s "$1" ]] || return 1
	pid="$(head -n 1 "$1")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	proc_alive "$pid" || return 1
	printf '%s\n' "$pid"
}

# port_open PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
	timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# port_reserve PORT: keep PORT out of the kernel's ephemeral range. Our
# default ports (55432, 56379, 59092, 59093) lie inside 32768-60999, so a
# client connection can take one as its source port; its TIME_WAIT then makes
# bind() fail even with SO_REUSEADDR (seen with Kafka). Best effort: needs
# root and a writable /proc/sys (a per-network-namespace setting).
port_reserve() {
	local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur lo hi
	[[ -w "$f" ]] || return 0
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	(( $1 >= lo && $1 <= hi )) || return 0
	cur="$(cat "$f" 2>/dev/null)" || return 0
	if [[ ",${cur}," == *",$1,"* ]]; then
		return 0
	fi
	printf '%s\n' "${cur:+${cur},}$1" >"$f" 2>/dev/null || return 0
}

# port_client_use PORT: true if a client connection uses PORT as its source
# port (ESTAB or TIME_WAIT). Told apart from our own server's leftover
# connections by the peer: a client talks to a well-known port or to one of
# the stack's ports, a server's peer is some other ephemeral port.
port_client_use() {
	local lo hi ours
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	ours=" ${SIMPUL_PG_PORT} ${SIMPUL_REDIS_PORT} ${SIMPUL_KAFKA_PORT} ${SIMPUL_KAFKA_CONTROLLER_PORT} "
	ss -Htan "( sport = :$1 )" 2>/dev/null | awk -v lo="$lo" -v hi="$hi" -v ours="$ours" '
		$1 != "LISTEN" {
			n = split($5, a, ":"); p = a[n] + 0
			if (p < lo || p > hi || index(ours, " " p " ")) found = 1
		}
		END { exit !found }'
}

# port_free PORT NAME: dies at once when another process listens on PORT;
# waits (up to 65 s, the TIME_WAIT length) while a client connection holds
# it as its source port, which would make bind() fail.
port_free() {
	local p="$1" limit=$(( $(date +%s) + 65 )) told=""
	port_reserve "$p"
	if ss -Htln "( sport = :${p} )" 2>/dev/null | grep -q .; then
		die "port ${p} is taken by another process (set $2)"
	fi
	while port_client_use "$p"; do
		(( $(date +%s) < limit )) || die "port ${p} still used as a client's source port"
		if [[ -z "$told" ]]; then
			note "waiting for a client connection using port ${p} as source port to clear"
			told=1
		fi
		sleep 1
	done
}

# wait_for SECONDS CMD...: run CMD until it succeeds or SECONDS pass.
wait_for() {
	local limit=$(( $(date +%s) + $1 ))
	shift
	until "$@"; do
		(( $(date +%s) < limit )) || return 1
		sleep 0.2
	done
}

# stop_pidfile FILE SECONDS: SIGTERM the process in FILE, wait up to SECONDS,
# then SIGKILL. Removes FILE. Prints "stopped", "killed" or "not running".
stop_pidfile() {
	local pid limit
	if ! pid="$(pidfile_pid "$1")"; then
		rm -f "$1"
		echo "not running"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	limit=$(( $(date +%s) + $2 ))
	while proc_alive "$pid" && (( $(date +%s) < limit )); do
		sleep 0.2
	done
	if proc_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		while proc_alive "$pid"; do sleep 0.1; done
		rm -f "$1"
		echo "killed after ${2}s"
		return 0
	fi
	rm -f "$1"
	echo "stopped"
}

# stack_dirs: create the state folders (ignored by git).
stack_dirs() {
	mkdir -p "$STACK_LOGS" "$STACK_RUN"
}

# as_root CMD...: run CMD as root (sudo when we are not root).
as_root() {
	if (( EUID == 0 )); then
		"$@"
	else
		sudo "$@"
	fi
}
