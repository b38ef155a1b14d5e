# deploy/lib/kafka.sh: a real Apache Kafka broker (KRaft, one node acting as
# broker and controller) run straight from Maven Central jars, as described in
# /work/shared/KAFKA.md: fetch the classpath once, write the configuration,
# format the storage once, start in the background, wait for metadata.
# shellcheck shell=bash disable=SC2153

STACK_KAFKA_PID="${STACK_RUN:?}/kafka.pid"
STACK_KAFKA_LOG="${STACK_LOGS:?}/kafka.log"

# kafka_jars_ensure: step 2 of `up`, the broker classpath in .cache/kafka/lib,
# skipped when the marker of the pinned version is there.
kafka_jars_ensure() {
	local marker="${STACK_KAFKA_LIB}/.complete-kafka_2.13-${STACK_KAFKA_VERSION}"
	local tmp="${STACK_KAFKA_LIB}.tmp" log="${SIMPUL_ROOT}/.cache/kafka/maven.log"
	local count
	step_begin jars
	if [[ -f "$marker" ]]; then
		step_ok "kafka ${STACK_KAFKA_VERSION} cached in .cache/kafka/lib"
		return 0
	fi
	mkdir -p "${SIMPUL_ROOT}/.cache/kafka"
	rm -rf "$tmp"
	(cd "${SIMPUL_ROOT}/deploy/kafka" &&
		mvn -B -q dependency:copy-dependencies -DoutputDirectory="$tmp" \
			-DincludeScope=runtime -Dkafka.version="$STACK_KAFKA_VERSION") >"$log" 2>&1 ||
		die "maven could not fetch the kafka jars" "$log"
	[[ -f "${tmp}/kafka_2.13-${STACK_KAFKA_VERSION}.jar" ]] ||
		die "kafka_2.13-${STACK_KAFKA_VERSION}.jar missing after maven" "$log"
	rm -rf "$STACK_KAFKA_LIB"
	mv "$tmp" "$STACK_KAFKA_LIB"
	touch "$marker"
	count="$(find "$STACK_KAFKA_LIB" -name '*.jar' | wc -l)"
	step_ok "kafka ${STACK_KAFKA_VERSION}: ${count} jars fetched into .cache/kafka/lib"
}

# kafka_write_config: server.properties and log4j2.properties, rewritten on
# every start so port overrides take effect.
kafka_write_config() {
	mkdir -p "${STACK_KAFKA_DIR}/data"
	cat >"${STACK_KAFKA_DIR}/server.properties" <<PROPS
# Written by deploy/lib/kafka.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${SIMPUL_KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${SIMPUL_KAFKA_PORT},CONTROLLER://127.0.0.1:${SIMPUL_KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${SIMPUL_KAFKA_PORT},CONTROLLER://127.0.0.1:${SIMPUL_KAFKA_CONTROLLER_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${STACK_KAFKA_DIR}/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
PROPS
	kafka_write_log4j "${STACK_KAFKA_DIR}/log4j2.properties"
}

# kafka_write_log4j FILE: the brokers' log4j2 configuration (console only).
kafka_write_log4j() {
	cat >"$1" <<'PROPS'
# Written by deploy/lib/kafka.sh: broker logs to stdout (redirected to
# .stack/logs/kafka.log); request and state-change chatter only at WARN.
status = warn
# No log4j shutdown hook: the console appender needs no flush, and the hook
# only prints a warning when the broker exits.
shutdownHook = disable
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.net.name = org.apache.kafka.clients.NetworkClient
logger.net.level = WARN
PROPS
}

# kafka_cmd MAIN ARGS...: set KAFKA_CMD to the java command line running a
# Kafka main class on the cached classpath (heap STACK_KAFKA_HEAP, log4j2
# file KAFKA_LOG4J when set).
kafka_cmd() {
	# STACK_KAFKA_HEAP is deliberately split into words.
	# shellcheck disable=SC2206
	KAFKA_CMD=(java ${STACK_KAFKA_HEAP} -XX:+UseG1GC -XX:MaxGCPauseMillis=20
		-Djava.awt.headless=true
		-Dlog4j2.configurationFile="${KAFKA_LOG4J:-${STACK_KAFKA_DIR}/log4j2.properties}"
		-cp "${STACK_KAFKA_LIB}/*" "$@")
}

# kafka_tool ARGS...: run kafka.tools.StorageTool with a small heap.
kafka_tool() {
	STACK_KAFKA_HEAP="-Xmx256m" kafka_cmd kafka.tools.StorageTool "$@"
	"${KAFKA_CMD[@]}"
}

# kafka_format: format the storage once (a formatted folder is refused).
kafka_format() {
	local id log="${STACK_LOGS}/kafka-format.log"
	[[ -f "${STACK_KAFKA_DIR}/data/meta.properties" ]] && return 0
	id="$(kafka_tool random-uuid 2>>"$log" | tail -n 1)"
	[[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid gave '${id}'" "$log"
	kafka_tool format -t "$id" -c "${STACK_KAFKA_DIR}/server.properties" >>"$log" 2>&1 ||
		die "StorageTool format failed" "$log"
	note "formatted ${STACK_KAFKA_DIR#"${SIMPUL_ROOT}/"}/data (cluster ${id})"
}

# kafka_ready: true if a metadata request to the broker lists broker 1.
kafka_ready() {
	port_open "$SIMPUL_KAFKA_PORT" || return 1
	kcat -b "127.0.0.1:${SIMPUL_KAFKA_PORT}" -L -t __simpul_probe -m 2 2>/dev/null |
		grep -q "broker 1 at 127.0.0.1:${SIMPUL_KAFKA_PORT}"
}

# kafka_alive_and_ready: our broker process runs and answers; fails fast
# when the process died so waits do not run out the clock.
kafka_alive_and_ready() {
	pidfile_pid "$STACK_KAFKA_PID" >/dev/null || return 2
	kafka_ready
}

# kafka_wait SECONDS: wait for readiness; dies with the log when the broker
# exits or does not answer in time.
kafka_wait() {
	local limit=$(( $(date +%s) + $1 )) rc
	while :; do
		rc=0
		kafka_alive_and_ready || rc=$?
		(( rc == 0 )) && return 0
		(( rc == 2 )) && die "broker exited during start" "$STACK_KAFKA_LOG"
		(( $(date +%s) < limit )) || die "broker not ready after ${1}s" "$STACK_KAFKA_LOG"
		sleep 0.3
	done
}

# kafka_start: step 5 of `up`; leaves a running, answering broker alone.
kafka_start() {
	local pid
	step_begin kafka
	if pidfile_pid "$STACK_KAFKA_PID" >/dev/null && kafka_ready; then
		step_ok "running on 127.0.0.1:${SIMPUL_KAFKA_PORT} (controller ${SIMPUL_KAFKA_CONTROLLER_PORT})"
		return 0
	fi
	if pidfile_pid "$STACK_KAFKA_PID" >/dev/null; then
		# Alive but not answering yet: probably still starting.
		kafka_wait "$SIMPUL_KAFKA_START_TIMEOUT"
		step_ok "running on 127.0.0.1:${SIMPUL_KAFKA_PORT} (controller ${SIMPUL_KAFKA_CONTROLLER_PORT})"
		return 0
	fi
	[[ -f "${STACK_KAFKA_LIB}/kafka_2.13-${STACK_KAFKA_VERSION}.jar" ]] ||
		die "no kafka jars in ${STACK_KAFKA_LIB}: run deploy/stack infra"
	port_free "$SIMPUL_KAFKA_PORT" SIMPUL_KAFKA_PORT
	port_free "$SIMPUL_KAFKA_CONTROLLER_PORT" SIMPUL_KAFKA_CONTROLLER_PORT
	kafka_write_config
	kafka_format
	printf '\n===== start %s =====\n' "$(date -Is)" >>"$STACK_KAFKA_LOG"
	# setsid: the broker must not die with the shell (or CI job) that started it.
	# Not a process-group leader here, so setsid execs in place and $! is java.
	kafka_cmd kafka.Kafka "${STACK_KAFKA_DIR}/server.properties"
	nohup setsid "${KAFKA_CMD[@]}" >>"$STACK_KAFKA_LOG" 2>&1 </dev/null 9>&- &
	pid=$!
	echo "$pid" >"$STACK_KAFKA_PID"
	kafka_wait "$SIMPUL_KAFKA_START_TIMEOUT"
	step_ok "started on 127.0.0.1:${SIMPUL_KAFKA_PORT} (controller ${SIMPUL_KAFKA_CONTROLLER_PORT})"
}

# kafka_stop: SIGTERM, wait up to 30 s, then SIGKILL (a broker whose quorum
# is gone can wait minutes in controlled shutdown).
kafka_stop() {
	step_begin kafka
	step_ok "$(stop_pidfile "$STACK_KAFKA_PID" 30)"
}

# kafka_status: one line for `status`.
kafka_status() {
	if pidfile_pid "$STACK_KAFKA_PID" >/dev/null && kafka_ready; then
		printf '%-10s %-5s 127.0.0.1:%s (controller %s)\n' kafka up \
			"$SIMPUL_KAFKA_PORT" "$SIMPUL_KAFKA_CONTROLLER_PORT"
	else
		printf '%-10s %-5s 127.0.0.1:%s\n' kafka down "$SIMPUL_KAFKA_PORT"
	fi
}

# ---- a 3-broker KRaft cluster for fault tests (kafka3-*) ----
# Three combined broker+controller nodes on loopback (broker ports
# SIMPUL_KAFKA3_PORT..+2, controllers SIMPUL_KAFKA3_CONTROLLER_PORT..+2), one
# cluster id, data in .stack/kafka3/node<N>, replication 3 and min ISR 2 by
# default. Independent of the single dev broker: both can run at once.

# kafka3_port N / kafka3_cport N: broker / controller port of node N (1..3).
kafka3_port() { printf '%s\n' "$(( SIMPUL_KAFKA3_PORT + $1 - 1 ))"; }
kafka3_cport() { printf '%s\n' "$(( SIMPUL_KAFKA3_CONTROLLER_PORT + $1 - 1 ))"; }
kafka3_pidfile() { printf '%s/kafka3-%s.pid\n' "$STACK_RUN" "$1"; }
kafka3_log() { printf '%s/kafka3-%s.log\n' "$STACK_LOGS" "$1"; }

# kafka3_node_arg N: dies unless N is 1, 2 or 3.
kafka3_node_arg() {
	[[ "${1:-}" =~ ^[123]$ ]] || die "name a broker: 1, 2 or 3 (got '${1:-}')"
}

# kafka3_write_config N: node N's server.properties (rewritten every start).
kafka3_write_config() {
	local n="$1" dir="${STACK_KAFKA3_DIR}/node$1" voters=""
	local i
	for i in 1 2 3; do
		voters="${voters:+${voters},}${i}@127.0.0.1:$(kafka3_cport "$i")"
	done
	mkdir -p "${dir}/data"
	cat >"${dir}/server.properties" <<PROPS
# Written by deploy/lib/kafka.sh (kafka3) on every start; edits are lost.
process.roles=broker,controller
node.id=${n}
controller.quorum.voters=${voters}
listeners=PLAINTEXT://127.0.0.1:$(kafka3_port "$n"),CONTROLLER://127.0.0.1:$(kafka3_cport "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(kafka3_port "$n"),CONTROLLER://127.0.0.1:$(kafka3_cport "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${dir}/data
num.partitions=1
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=false
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=3
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
PROPS
}

# kafka3_format N: format node N once, with the cluster's one id (kept in
# .stack/kafka3/cluster.id so a wiped node can be re-formatted into it).
kafka3_format() {
	local dir="${STACK_KAFKA3_DIR}/node$1" idf="${STACK_KAFKA3_DIR}/cluster.id" id
	local log="${STACK_LOGS}/kafka3-format.log"
	[[ -f "${dir}/data/meta.properties" ]] && return 0
	if [[ ! -s "$idf" ]]; then
		id="$(kafka_tool random-uuid 2>>"$log" | tail -n 1)"
		[[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "StorageTool random-uuid gave '${id}'" "$log"
		printf '%s\n' "$id" >"$idf"
	fi
	id="$(head -n 1 "$idf")"
	kafka_tool format -t "$id" -c "${dir}/server.properties" >>"$log" 2>&1 ||
		die "StorageTool format of node $1 failed" "$log"
	note "formatted ${dir#"${SIMPUL_ROOT}/"}/data (cluster ${id})"
}

# kafka3_port_wait PORT NAME: port_free, and also waits (up to 65 s, then
# dies naming the holder) while an established connection has PORT as its
# local port: another program's long-lived client connection to some far
# port (seen: a service's connection to the dev broker) blocks bind() too.
# A killed node's own leftover server-side sockets do not.
kafka3_port_wait() {
	local limit=$(( $(date +%s) + 65 )) told=""
	port_free "$1" "$2"
	while ss -Htan state established "( sport = :$1 )" 2>/dev/null | grep -q .; do
		if (( $(date +%s) >= limit )); then
			die "port $1 is still some connection's local port ($(ss -Htanp "( sport = :$1 )" | head -n 1)); set $2"
		fi
		[[ -n "$told" ]] || note "waiting for a connection using port $1 to end"
		told=1
		sleep 1
	done
}

# kafka3_spawn N: start node N in the background (no wait).
kafka3_spawn() {
	local n="$1" log pid
	log="$(kafka3_log "$n")"
	kafka3_port_wait "$(kafka3_port "$n")" SIMPUL_KAFKA3_PORT
	kafka3_port_wait "$(kafka3_cport "$n")" SIMPUL_KAFKA3_CONTROLLER_PORT
	kafka3_write_config "$n"
	kafka3_format "$n"
	printf '\n===== start %s =====\n' "$(date -Is)" >>"$log"
	KAFKA_LOG4J="${STACK_KAFKA3_DIR}/log4j2.properties" STACK_KAFKA_HEAP="$STACK_KAFKA3_HEAP" \
		kafka_cmd kafka.Kafka "${STACK_KAFKA3_DIR}/node${n}/server.properties"
	nohup setsid "${KAFKA_CMD[@]}" >>"$log" 2>&1 </dev/null 9>&- &
	pid=$!
	echo "$pid" >"$(kafka3_pidfile "$n")"
}

# kafka3_node_ready N: node N answers metadata and lists itself (it is
# registered and unfenced).
kafka3_node_ready() {
	local p
	p="$(kafka3_port "$1")"
	port_open "$p" || return 1
	kcat -b "127.0.0.1:${p}" -L -t __simpul_probe -m 2 2>/dev/null |
		grep -q "broker $1 at 127.0.0.1:${p}"
}

# kafka3_wait_nodes SECONDS N...: wait until every named node is ready;
# dies with its log when one exits or the time runs out.
kafka3_wait_nodes() {
	local limit=$(( $(date +%s) + $1 )) n pending
	shift
	while :; do
		pending=""
		for n in "$@"; do
			pidfile_pid "$(kafka3_pidfile "$n")" >/dev/null ||
				die "broker ${n} exited during start" "$(kafka3_log "$n")"
			kafka3_node_ready "$n" || pending="${pending} ${n}"
		done
		[[ -z "$pending" ]] && return 0
		(( $(date +%s) < limit )) ||
			die "broker(s)${pending} not ready after ${SIMPUL_KAFKA_START_TIMEOUT}s" \
				"$(kafka3_log "${pending## }")"
		sleep 0.5
	done
}

# kafka3_up: start the nodes that are not running, wait for all three (a
# node cannot serve until a controller quorum of two is up), then create
# the project's topics with replication 3 when simpulctl is built.
kafka3_up() {
	local n started=() ctl
	step_begin kafka3
	[[ -f "${STACK_KAFKA_LIB}/kafka_2.13-${STACK_KAFKA_VERSION}.jar" ]] ||
		die "no kafka jars in ${STACK_KAFKA_LIB}: run deploy/stack infra"
	mkdir -p "$STACK_KAFKA3_DIR"
	kafka_write_log4j "${STACK_KAFKA3_DIR}/log4j2.properties"
	# Reserve all six ports first: a starting node's client connections must
	# not take a later node's port as their source port.
	for n in 1 2 3; do
		port_reserve "$(kafka3_port "$n")"
		port_reserve "$(kafka3_cport "$n")"
	done
	for n in 1 2 3; do
		if ! pidfile_pid "$(kafka3_pidfile "$n")" >/dev/null; then
			kafka3_spawn "$n"
			started+=("$n")
		fi
	done
	kafka3_wait_nodes "$SIMPUL_KAFKA_START_TIMEOUT" 1 2 3
	step_ok "3 brokers on ${SIMPUL_KAFKA3_BROKERS} (started: ${started[*]:-none})"
	ctl="$(simpulctl_path dev)"
	if [[ -x "$ctl" ]]; then
		step_begin topics3
		SIMPUL_KAFKA_BROKERS="$SIMPUL_KAFKA3_BROKERS" "$ctl" topics ensure --replication 3 \
			>"${STACK_LOGS}/kafka3-topics.log" 2>&1 ||
			die "simpulctl topics ensure --replication 3 failed" "${STACK_LOGS}/kafka3-topics.log"
		step_ok "$(tail -n 1 "${STACK_LOGS}/kafka3-topics.log") (replication 3, min ISR 2)"
	fi
}

# kafka3_down: SIGTERM all three together (a node whose quorum is gone can
# wait minutes in controlled shutdown), 30 s, then SIGKILL.
kafka3_down() {
	local n pid pids=() limit
	step_begin kafka3
	for n in 1 2 3; do
		if pid="$(pidfile_pid "$(kafka3_pidfile "$n")")"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	limit=$(( $(date +%s) + 30 ))
	for pid in "${pids[@]}"; do
		while proc_alive "$pid" && (( $(date +%s) < limit )); do sleep 0.2; done
		if proc_alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			while proc_alive "$pid"; do sleep 0.1; done
		fi
	done
	rm -f "$(kafka3_pidfile 1)" "$(kafka3_pidfile 2)" "$(kafka3_pidfile 3)"
	step_ok "stopped ${#pids[@]} broker(s)"
}

# kafka3_kill N: SIGKILL broker N (no shutdown at all) and wait until gone.
kafka3_kill() {
	local pid
	kafka3_node_arg "${1:-}"
	step_begin "kafka3-$1"
	if ! pid="$(pidfile_pid "$(kafka3_pidfile "$1")")"; then
		step_ok "not running"
		return 0
	fi
	kill -KILL "$pid" 2>/dev/null || true
	while proc_alive "$pid"; do sleep 0.1; done
	rm -f "$(kafka3_pidfile "$1")"
	step_ok "killed (SIGKILL) pid ${pid}"
}

# kafka3_start N: start broker N again and wait until it is back in the
# cluster's metadata (log recovery after a SIGKILL included).
kafka3_start() {
	kafka3_node_arg "${1:-}"
	step_begin "kafka3-$1"
	if pidfile_pid "$(kafka3_pidfile "$1")" >/dev/null && kafka3_node_ready "$1"; then
		step_ok "running on 127.0.0.1:$(kafka3_port "$1")"
		return 0
	fi
	pidfile_pid "$(kafka3_pidfile "$1")" >/dev/null || kafka3_spawn "$1"
	kafka3_wait_nodes "$SIMPUL_KAFKA_START_TIMEOUT" "$1"
	step_ok "started on 127.0.0.1:$(kafka3_port "$1")"
}

# kafka3_status: one line per node for `status`.
kafka3_status() {
	local n state
	for n in 1 2 3; do
		if pidfile_pid "$(kafka3_pidfile "$n")" >/dev/null && kafka3_node_ready "$n"; then
			state=up
		elif pidfile_pid "$(kafka3_pidfile "$n")" >/dev/null; then
			state="down  (running, not answering)"
		else
			state=down
		fi
		printf '%-10s %-5s 127.0.0.1:%s (controller %s)\n' "kafka3-${n}" "$state" \
			"$(kafka3_port "$n")" "$(kafka3_cport "$n")"
	done
}
