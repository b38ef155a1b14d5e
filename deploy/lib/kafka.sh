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
	cat >"${STACK_KAFKA_DIR}/log4j2.properties" <<'PROPS'
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
# Kafka main class on the cached classpath.
kafka_cmd() {
	# STACK_KAFKA_HEAP is deliberately split into words.
	# shellcheck disable=SC2206
	KAFKA_CMD=(java ${STACK_KAFKA_HEAP} -XX:+UseG1GC -XX:MaxGCPauseMillis=20
		-Djava.awt.headless=true
		-Dlog4j2.configurationFile="${STACK_KAFKA_DIR}/log4j2.properties"
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
