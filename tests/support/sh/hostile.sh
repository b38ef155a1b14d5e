# tests/support/sh/hostile.sh - shared harness of the services' hostile-input
# tests (services/*/tests/*_hostile_test.sh): start a service binary ($BIN)
# on a free port, make users with tokens in PostgreSQL, send one request and
# check its status and the one error shape, and at the end fail on any
# sanitizer report in the service's stderr. Sourced, not run; the caller sets
# BIN and the SIMPUL_* connection variables first.
# shellcheck shell=bash
WORK=$(mktemp -d)
LOG=$WORK/service.log
PID=
FAILS=0

cleanup()
{
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

die()
{
	echo "FAIL: $*" >&2
	[ -f "$LOG" ] && tail -20 "$LOG" >&2
	exit 1
}

# mk_token ROLE [REGION_PREFIX]: a user with a fresh API token, printed.
mk_token()
{
	local tok h pfx=NULL
	tok="simpul_$(head -c 96 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 43)"
	h=$(printf %s "$tok" | sha256sum | cut -d' ' -f1)
	[ -n "${2:-}" ] && pfx="'$2'"
	psql -qAt "$SIMPUL_PG_URL" -v ON_ERROR_STOP=1 -c "WITH u AS (INSERT INTO simpul.users \
		(name, role, region_prefix) VALUES ('hostile-test $1', '$1', $pfx) RETURNING id) \
		INSERT INTO simpul.api_tokens (user_id, token_hash, label) SELECT id, \
		decode('$h', 'hex'), 'hostile-test' FROM u" >/dev/null || return 1
	echo "$tok"
}

# start_service ENV...: runs $BIN on a free port, sets BASE.
start_service()
{
	env "$@" ASAN_OPTIONS=detect_leaks=0 "$BIN" >"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq 150); do
		port=$(grep -o 'msg=listening addr=[^ ]* port=[0-9]*' "$LOG" | grep -o '[0-9]*$')
		[ -n "$port" ] && break
		kill -0 "$PID" 2>/dev/null || die "service exited at start"
		sleep 0.2
	done
	[ -n "$port" ] || die "service did not listen within 30 s"
	BASE=http://127.0.0.1:$port
}

# expect STATUS METHOD PATH TOKEN [BODY] [FIELD]: one request; a 4xx must be
# in the error shape (and name FIELD when given, "null" for none).
expect()
{
	local want=$1 m=$2 path=$3 tok=${4-} body=${5-} field=${6-} out code
	local args=(-s -m 10 -o "$WORK/body" -w '%{http_code}' -X "$m")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	if [ -n "$body" ]; then
		printf %s "$body" >"$WORK/request"
		args+=(-H 'Content-Type: application/json' --data-binary "@$WORK/request")
	fi
	code=$(curl "${args[@]}" "$BASE$path")
	out=$(head -c 300 "$WORK/body")
	if [ "$code" != "$want" ]; then
		echo "FAIL: $m $path ${body:0:80}: status $code, wanted $want: $out" >&2
		FAILS=$((FAILS + 1))
		return
	fi
	[ "$code" -lt 400 ] && return
	if ! jq -e '(.error|keys) == ["code","field","message"] and (.error.code|type) == "string"
		and (.error.message|type) == "string" and (.error.field|type) != "number"' \
		"$WORK/body" >/dev/null 2>&1; then
		echo "FAIL: $m $path: not the error shape: $out" >&2
		FAILS=$((FAILS + 1))
		return
	fi
	if [ -n "$field" ] && [ "$(jq -r '.error.field' "$WORK/body")" != "$field" ]; then
		echo "FAIL: $m $path ${body:0:80}: field $(jq -r '.error.field' "$WORK/body"), wanted $field" >&2
		FAILS=$((FAILS + 1))
	fi
}

finish()
{
	kill -0 "$PID" 2>/dev/null || die "the service died during the attacks"
	kill "$PID"
	wait "$PID"
	PID=
	if grep -q 'AddressSanitizer\|runtime error:\|LeakSanitizer' "$LOG"; then
		grep -A30 'AddressSanitizer\|runtime error:' "$LOG" | head -60 >&2
		die "sanitizer report in the service's stderr"
	fi
	[ "$FAILS" -eq 0 ] || die "$FAILS hostile inputs handled wrongly"
	echo "ok: every hostile input got a clean 4xx"
}
