# deploy/lib/env.sh: the one place that defines the stack's environment.
#
# Every setting has a default and can be overridden by exporting it before
# calling deploy/stack. The SIMPUL_* variables are exported so services, tests
# and simpulctl see exactly what the stack started; the STACK_* variables are
# private paths used by the other helpers. Expects SIMPUL_ROOT (repo root).
# shellcheck shell=bash disable=SC2034

# Ports (loopback only).
export SIMPUL_PG_PORT="${SIMPUL_PG_PORT:-55432}"
export SIMPUL_REDIS_PORT="${SIMPUL_REDIS_PORT:-56379}"
export SIMPUL_KAFKA_PORT="${SIMPUL_KAFKA_PORT:-59092}"
export SIMPUL_KAFKA_CONTROLLER_PORT="${SIMPUL_KAFKA_CONTROLLER_PORT:-59093}"
# The 3-broker cluster for fault tests (deploy/stack kafka3-up): brokers on
# SIMPUL_KAFKA3_PORT..+2, controllers on SIMPUL_KAFKA3_CONTROLLER_PORT..+2.
export SIMPUL_KAFKA3_PORT="${SIMPUL_KAFKA3_PORT:-59192}"
export SIMPUL_KAFKA3_CONTROLLER_PORT="${SIMPUL_KAFKA3_CONTROLLER_PORT:-$(( SIMPUL_KAFKA3_PORT + 10 ))}"
export SIMPUL_INGEST_PORT="${SIMPUL_INGEST_PORT:-8081}"
export SIMPUL_MODERATE_PORT="${SIMPUL_MODERATE_PORT:-8082}"
export SIMPUL_SEARCH_PORT="${SIMPUL_SEARCH_PORT:-8083}"
export SIMPUL_NOTIFY_PORT="${SIMPUL_NOTIFY_PORT:-8084}"
export SIMPUL_REPORT_PORT="${SIMPUL_REPORT_PORT:-8085}"
export SIMPUL_CONSOLE_PORT="${SIMPUL_CONSOLE_PORT:-8086}"

# Connection settings derived from the ports.
export SIMPUL_PG_URL="${SIMPUL_PG_URL:-postgresql://simpul@127.0.0.1:${SIMPUL_PG_PORT}/simpul}"
export SIMPUL_REDIS_HOST="${SIMPUL_REDIS_HOST:-127.0.0.1}"
export SIMPUL_KAFKA_BROKERS="${SIMPUL_KAFKA_BROKERS:-127.0.0.1:${SIMPUL_KAFKA_PORT}}"
export SIMPUL_KAFKA3_BROKERS="${SIMPUL_KAFKA3_BROKERS:-127.0.0.1:${SIMPUL_KAFKA3_PORT},127.0.0.1:$(( SIMPUL_KAFKA3_PORT + 1 )),127.0.0.1:$(( SIMPUL_KAFKA3_PORT + 2 ))}"

# The console forwards to the APIs on their (possibly overridden) ports.
export SIMPUL_CONSOLE_MODERATE_URL="${SIMPUL_CONSOLE_MODERATE_URL:-http://127.0.0.1:${SIMPUL_MODERATE_PORT}}"
export SIMPUL_CONSOLE_REPORT_URL="${SIMPUL_CONSOLE_REPORT_URL:-http://127.0.0.1:${SIMPUL_REPORT_PORT}}"
export SIMPUL_CONSOLE_SEARCH_URL="${SIMPUL_CONSOLE_SEARCH_URL:-http://127.0.0.1:${SIMPUL_SEARCH_PORT}}"

# For tests: the stack script itself (fault tests call `$SIMPUL_STACK kafka-stop`)
# and the shared public data, when it is there.
export SIMPUL_STACK="${SIMPUL_ROOT}/deploy/stack"
if [[ -z "${SIMPUL_SHARED_DATA:-}" && -d "${SIMPUL_ROOT}/../shared/data" ]]; then
	SIMPUL_SHARED_DATA="$(cd "${SIMPUL_ROOT}/../shared/data" && pwd)"
	export SIMPUL_SHARED_DATA
fi

# Pinned broker version (deploy/kafka/pom.xml takes it as -Dkafka.version).
STACK_KAFKA_VERSION="${SIMPUL_KAFKA_VERSION:-4.1.1}"
STACK_KAFKA_HEAP="${SIMPUL_KAFKA_HEAP:--Xms512m -Xmx1g}"
# Each of the three fault-test brokers: a small heap (2 cores, shared).
STACK_KAFKA3_HEAP="${SIMPUL_KAFKA3_HEAP:--Xms256m -Xmx384m}"
# How long a (re)starting broker may take to answer; log recovery after a
# crash on a busy 2-core machine has been seen to need well over 90 s.
SIMPUL_KAFKA_START_TIMEOUT="${SIMPUL_KAFKA_START_TIMEOUT:-240}"

# Where state lives: everything under the checkout, in ignored folders.
STACK_DIR="${SIMPUL_ROOT}/.stack"
STACK_LOGS="${STACK_DIR}/logs"
STACK_RUN="${STACK_DIR}/run"
STACK_PG_DATA="${STACK_DIR}/pg"
STACK_PG_SOCK="${STACK_DIR}/pgsock"
STACK_REDIS_DIR="${STACK_DIR}/redis"
STACK_KAFKA_DIR="${STACK_DIR}/kafka"
STACK_KAFKA3_DIR="${STACK_DIR}/kafka3"
STACK_KAFKA_LIB="${SIMPUL_ROOT}/.cache/kafka/lib"

# Services started by `up`, in start order.
STACK_SERVICES=(ingest moderate search notify report console)
