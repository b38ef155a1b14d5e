# deploy/lib/postgres.sh: the stack's own PostgreSQL cluster in .stack/pg,
# run with Debian's binaries as the `postgres` system user (postgres refuses
# to run as root), on 127.0.0.1 only, trust auth for loopback, with role and
# database `simpul`. fsync and synchronous_commit stay on: the ingest
# benchmark must measure real commits.
# shellcheck shell=bash

STACK_PG_LOG="${STACK_LOGS:?}/postgres.log"

# pg_bindir: print the newest /usr/lib/postgresql/<ver>/bin.
pg_bindir() {
	local d
	d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
		sort -V | tail -n 1)"
	[[ -n "$d" && -x "${d}/pg_ctl" ]] || return 1
	printf '%s\n' "$d"
}

# pg_as ARGS...: run a command as the postgres system user.
pg_as() {
	if (( EUID == 0 )); then
		runuser -u postgres -- "$@"
	else
		sudo -u postgres -- "$@"
	fi
}

# pg_ready: true if the server accepts connections on our port.
pg_ready() {
	pg_isready -q -h 127.0.0.1 -p "$SIMPUL_PG_PORT" -U postgres -d postgres -t 2
}

# pg_running: true if our cluster's postmaster is alive. Reads the pid file
# itself: `pg_ctl status` counts a killed, not yet reaped postmaster (zombie)
# as running.
pg_running() {
	local pid
	pid="$(pg_as head -n 1 "${STACK_PG_DATA}/postmaster.pid" 2>/dev/null)" || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] && proc_alive "$pid"
}

# pg_wait_reaped: a killed postmaster stays a zombie until its parent (init)
# reaps it, and postgres refuses to start while the pid in postmaster.pid
# exists at all; wait (up to 15 s) for it to go.
pg_wait_reaped() {
	local pid limit=$(( $(date +%s) + 15 ))
	pid="$(pg_as head -n 1 "${STACK_PG_DATA}/postmaster.pid" 2>/dev/null)" || return 0
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	while kill -0 "$pid" 2>/dev/null; do
		(( $(date +%s) < limit )) ||
			die "old postmaster ${pid} is dead but not reaped; postgres will not start over it"
		sleep 0.2
	done
}

# pg_wait SECONDS: wait until the server answers; dies when it stops running.
pg_wait() {
	local limit=$(( $(date +%s) + $1 ))
	until pg_ready; do
		pg_running || die "server exited during start" "$STACK_PG_LOG"
		(( $(date +%s) < limit )) || die "server not answering after $1s" "$STACK_PG_LOG"
		sleep 0.2
	done
}

# pg_traversable: make sure the postgres user can reach .stack (it needs
# search permission on every parent folder of the checkout).
pg_traversable() {
	local d="$STACK_DIR"
	pg_as test -x "$STACK_DIR" && return 0
	while [[ "$d" != "/" ]]; do
		if ! pg_as test -x "$d"; then
			chmod o+x "$d" || die "cannot give the postgres user access to ${d}"
			note "chmod o+x ${d} (postgres must reach ${STACK_DIR})"
		fi
		d="$(dirname "$d")"
	done
}

# pg_init: initdb once into .stack/pg.
pg_init() {
	local bin="$1" log="${STACK_LOGS}/postgres-initdb.log"
	mkdir -p "$STACK_PG_DATA" "$STACK_PG_SOCK"
	chown postgres:postgres "$STACK_PG_DATA" "$STACK_PG_SOCK"
	chmod 700 "$STACK_PG_DATA"
	pg_traversable
	[[ -f "${STACK_PG_DATA}/PG_VERSION" ]] && return 0
	pg_as "${bin}/initdb" -D "$STACK_PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=trust --no-instructions >"$log" 2>&1 ||
		die "initdb failed" "$log"
	note "initialised ${STACK_PG_DATA#"${SIMPUL_ROOT}/"} ($(cat "${STACK_PG_DATA}/PG_VERSION"))"
}

# pg_write_config: our settings, included from postgresql.conf; rewritten on
# every start so port overrides take effect.
pg_write_config() {
	local conf="${STACK_PG_DATA}/postgresql.conf"
	cat >"${STACK_PG_DATA}/simpul.conf" <<CONF
# Written by deploy/lib/postgres.sh on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = ${SIMPUL_PG_PORT}
unix_socket_directories = '${STACK_PG_SOCK}'
max_connections = 200
shared_buffers = 256MB
work_mem = 8MB
maintenance_work_mem = 128MB
max_wal_size = 2GB
fsync = on
synchronous_commit = on
full_page_writes = on
log_min_duration_statement = 1000
log_line_prefix = '%m [%p] %q%u@%d '
CONF
	cat >"${STACK_PG_DATA}/pg_hba.conf" <<CONF
# Written by deploy/lib/postgres.sh: trust on loopback only (dev stack).
local   all all              trust
host    all all 127.0.0.1/32 trust
host    all all ::1/128      trust
CONF
	grep -q "^include_if_exists = 'simpul.conf'" "$conf" ||
		printf "\ninclude_if_exists = 'simpul.conf'\n" >>"$conf"
	chown postgres:postgres "${STACK_PG_DATA}/simpul.conf" "${STACK_PG_DATA}/pg_hba.conf"
}

# pg_psql SQL: run SQL as the superuser on database postgres.
pg_psql() {
	psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SIMPUL_PG_PORT" -U postgres \
		-d postgres -tA -c "$1"
}

# pg_bootstrap: role and database `simpul` (a no-op when they exist).
pg_bootstrap() {
	local log="${STACK_LOGS}/postgres-bootstrap.log"
	{
		pg_psql "DO \$\$ BEGIN
			IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'simpul') THEN
				CREATE ROLE simpul LOGIN SUPERUSER;
			END IF; END \$\$;" &&
		if [[ "$(pg_psql "SELECT 1 FROM pg_database WHERE datname = 'simpul'")" != "1" ]]; then
			pg_psql "CREATE DATABASE simpul OWNER simpul"
		fi
	} >"$log" 2>&1 || die "could not create role/database simpul" "$log"
}

# pg_start: step 3 of `up`; leaves a running, answering cluster alone.
pg_start() {
	local bin verb="running"
	step_begin postgres
	bin="$(pg_bindir)" || die "no PostgreSQL binaries under /usr/lib/postgresql (package postgresql)"
	if ! { pg_running && pg_ready; }; then
		if pg_running; then
			pg_wait 60
		else
			port_free "$SIMPUL_PG_PORT" SIMPUL_PG_PORT
			pg_init "$bin"
			if [[ "$(cat "${STACK_PG_DATA}/PG_VERSION")" != "$(basename "$(dirname "$bin")")" ]]; then
				die "${STACK_PG_DATA} is from PostgreSQL $(cat "${STACK_PG_DATA}/PG_VERSION"): reset with 'deploy/stack down && rm -rf .stack'"
			fi
			pg_write_config
			pg_wait_reaped
			touch "$STACK_PG_LOG"
			chown postgres:postgres "$STACK_PG_LOG"
			pg_as "${bin}/pg_ctl" -D "$STACK_PG_DATA" -l "$STACK_PG_LOG" -w -t 60 start \
				>>"${STACK_LOGS}/postgres-ctl.log" 2>&1 9>&- || die "pg_ctl start failed" "$STACK_PG_LOG"
			pg_wait 30
			verb="started"
		fi
	fi
	pg_bootstrap
	step_ok "${verb} on 127.0.0.1:${SIMPUL_PG_PORT} (database simpul, user simpul)"
}

# pg_stop: fast shutdown (rolls back open transactions, no data loss).
pg_stop() {
	local bin
	step_begin postgres
	bin="$(pg_bindir)" || die "no PostgreSQL binaries under /usr/lib/postgresql"
	if ! pg_running; then
		step_ok "not running"
		return 0
	fi
	pg_as "${bin}/pg_ctl" -D "$STACK_PG_DATA" -m fast -w -t 60 stop \
		>>"${STACK_LOGS}/postgres-ctl.log" 2>&1 || die "pg_ctl stop failed" "$STACK_PG_LOG"
	step_ok "stopped"
}

# pg_status: one line for `status`.
pg_status() {
	if pg_running && pg_ready; then
		printf '%-10s %-5s 127.0.0.1:%s\n' postgres up "$SIMPUL_PG_PORT"
	else
		printf '%-10s %-5s 127.0.0.1:%s\n' postgres down "$SIMPUL_PG_PORT"
	fi
}
