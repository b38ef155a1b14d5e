# deploy/lib/redis.sh: the stack's own redis-server on 127.0.0.1, daemonized,
# with its data, pid file and log under .stack.
# shellcheck shell=bash disable=SC2153

STACK_REDIS_PID="${STACK_RUN:?}/redis.pid"
STACK_REDIS_LOG="${STACK_LOGS:?}/redis.log"

# redis_ready: true if the server answers PING on our port.
redis_ready() {
	[[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$SIMPUL_REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
}

# redis_write_config: rewritten on every start so port overrides take effect.
redis_write_config() {
	mkdir -p "$STACK_REDIS_DIR"
	cat >"${STACK_REDIS_DIR}/redis.conf" <<CONF
# Written by deploy/lib/redis.sh on every start; edits are lost.
bind 127.0.0.1
port ${SIMPUL_REDIS_PORT}
protected-mode yes
daemonize yes
supervised no
pidfile ${STACK_REDIS_PID}
logfile ${STACK_REDIS_LOG}
dir ${STACK_REDIS_DIR}
dbfilename dump.rdb
save 300 100
appendonly no
CONF
}

# redis_start: step 4 of `up`; leaves a running, answering server alone.
redis_start() {
	step_begin redis
	if pidfile_pid "$STACK_REDIS_PID" >/dev/null && redis_ready; then
		step_ok "running on 127.0.0.1:${SIMPUL_REDIS_PORT}"
		return 0
	fi
	if pidfile_pid "$STACK_REDIS_PID" >/dev/null; then
		wait_for 20 redis_ready || die "server runs but does not answer" "$STACK_REDIS_LOG"
		step_ok "running on 127.0.0.1:${SIMPUL_REDIS_PORT}"
		return 0
	fi
	port_free "$SIMPUL_REDIS_PORT" SIMPUL_REDIS_PORT
	redis_write_config
	redis-server "${STACK_REDIS_DIR}/redis.conf" >>"$STACK_REDIS_LOG" 2>&1 9>&- ||
		die "redis-server failed to start" "$STACK_REDIS_LOG"
	wait_for 20 redis_ready || die "server not answering after 20s" "$STACK_REDIS_LOG"
	step_ok "started on 127.0.0.1:${SIMPUL_REDIS_PORT}"
}

# redis_stop: SIGTERM (redis saves its snapshot and exits), wait, SIGKILL.
redis_stop() {
	step_begin redis
	step_ok "$(stop_pidfile "$STACK_REDIS_PID" 20)"
}

# redis_status: one line for `status`.
redis_status() {
	if pidfile_pid "$STACK_REDIS_PID" >/dev/null && redis_ready; then
		printf '%-10s %-5s 127.0.0.1:%s\n' redis up "$SIMPUL_REDIS_PORT"
	else
		printf '%-10s %-5s 127.0.0.1:%s\n' redis down "$SIMPUL_REDIS_PORT"
	fi
}
