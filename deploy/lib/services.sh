# deploy/lib/services.sh: the Simpul services (built binaries under
# build/dev/services/<svc>/simpul-<svc>) run in the background with the
# stack's environment, each with a log, a pid file and a /healthz check.
# shellcheck shell=bash

# svc_port SVC: the port of a service, from SIMPUL_<SVC>_PORT.
svc_port() {
	local var="SIMPUL_${1^^}_PORT"
	printf '%s\n' "${!var}"
}

# svc_bin SVC: the dev build's binary of a service.
svc_bin() {
	printf '%s/build/dev/services/%s/simpul-%s\n' "$SIMPUL_ROOT" "$1" "$1"
}

# svc_healthy SVC: true if GET /healthz answers 2xx.
svc_healthy() {
	curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$(svc_port "$1")/healthz" 2>/dev/null
}

# svc_wait SVC PID SECONDS: wait for /healthz; dies when the process exits.
svc_wait() {
	local limit=$(( $(date +%s) + $3 )) log="${STACK_LOGS}/$1.log"
	until svc_healthy "$1"; do
		proc_alive "$2" || die "simpul-$1 exited during start" "$log"
		(( $(date +%s) < limit )) || die "no healthy /healthz after $3s" "$log"
		sleep 0.2
	done
}

# svc_start SVC: start one service unless it runs, answers, and is not older
# than its binary (a rebuilt binary means a restart).
svc_start() {
	local svc="$1" bin pid pidf="${STACK_RUN}/$1.pid" log="${STACK_LOGS}/$1.log"
	local url
	bin="$(svc_bin "$svc")"
	url="http://127.0.0.1:$(svc_port "$svc")"
	step_begin "$svc"
	if [[ ! -x "$bin" ]]; then
		step_ok "skipped: not built yet (${bin#"${SIMPUL_ROOT}/"})"
		return 0
	fi
	if pid="$(pidfile_pid "$pidf")"; then
		if [[ "$bin" -nt "$pidf" ]]; then
			note "binary rebuilt: restarting simpul-${svc} ($(stop_pidfile "$pidf" 30))"
		elif svc_healthy "$svc"; then
			step_ok "running  ${url}"
			return 0
		else
			svc_wait "$svc" "$pid" 30
			step_ok "running  ${url}"
			return 0
		fi
	fi
	port_free "$(svc_port "$svc")" "SIMPUL_${svc^^}_PORT"
	printf '\n===== start %s =====\n' "$(date -Is)" >>"$log"
	nohup setsid "$bin" >>"$log" 2>&1 </dev/null 9>&- &
	pid=$!
	echo "$pid" >"$pidf"
	svc_wait "$svc" "$pid" 60
	step_ok "started  ${url}"
}

# svc_start_all: step 9 of `up`.
svc_start_all() {
	local svc
	for svc in "${STACK_SERVICES[@]}"; do
		svc_start "$svc"
	done
}

# stack_summary: where everything listens, printed at the end of `up`.
stack_summary() {
	local svc
	echo "Simpul stack:"
	for svc in "${STACK_SERVICES[@]}"; do
		if pidfile_pid "${STACK_RUN}/${svc}.pid" >/dev/null; then
			printf '  %-9s http://127.0.0.1:%s\n' "$svc" "$(svc_port "$svc")"
		else
			printf '  %-9s (not built yet)\n' "$svc"
		fi
	done
	printf '  %-9s %s\n' postgres "$SIMPUL_PG_URL" redis \
		"${SIMPUL_REDIS_HOST}:${SIMPUL_REDIS_PORT}" kafka "$SIMPUL_KAFKA_BROKERS"
	echo "logs in ${STACK_LOGS}; deploy/stack status | logs NAME | down"
}

# svc_stop_all: SIGTERM every service (they drain), wait, SIGKILL.
svc_stop_all() {
	local svc
	for svc in "${STACK_SERVICES[@]}"; do
		[[ -e "${STACK_RUN}/${svc}.pid" ]] || continue
		step_begin "$svc"
		step_ok "$(stop_pidfile "${STACK_RUN}/${svc}.pid" 30)"
	done
}

# svc_status: one line per service for `status`.
svc_status() {
	local svc state url
	for svc in "${STACK_SERVICES[@]}"; do
		url="http://127.0.0.1:$(svc_port "$svc")"
		if [[ ! -x "$(svc_bin "$svc")" ]]; then
			state="down  ${url} (not built)"
		elif pidfile_pid "${STACK_RUN}/${svc}.pid" >/dev/null && svc_healthy "$svc"; then
			state="up    ${url}"
		elif pidfile_pid "${STACK_RUN}/${svc}.pid" >/dev/null; then
			state="down  ${url} (running, /healthz not answering)"
		else
			state="down  ${url}"
		fi
		printf '%-10s %s\n' "$svc" "$state"
	done
}
