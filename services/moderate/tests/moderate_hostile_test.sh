#!/usr/bin/env bash
# services/moderate/tests/moderate_hostile_test.sh - hostile HTTP input against
# the review API: malformed and deeply nested JSON, wrong types, invalid UTF-8
# and NUL in bodies, query strings and paths, bad uuids, out-of-range and
# non-numeric limit/depth/min_age_s, garbage Authorization headers. Every
# answer must be a 4xx (never 5xx, never a hang) in the one error shape
# {"error":{"code","message","field"}}, and the AddressSanitizer build must
# not report anything on stderr.
#
# usage: moderate_hostile_test.sh <path of simpul-moderate>
# Needs the running stack (deploy/stack infra); fails loudly without it.
set -u
BIN=${1:?usage: moderate_hostile_test.sh <simpul-moderate>}
export SIMPUL_PG_URL=${SIMPUL_PG_URL:-postgresql://simpul@127.0.0.1:55432/simpul}
export SIMPUL_REDIS_HOST=${SIMPUL_REDIS_HOST:-127.0.0.1} SIMPUL_REDIS_PORT=${SIMPUL_REDIS_PORT:-56379}
export SIMPUL_KAFKA_BROKERS=${SIMPUL_KAFKA_BROKERS:-127.0.0.1:59092}
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

psql -qAt "$SIMPUL_PG_URL" -c 'SELECT 1' >/dev/null 2>&1 ||
	die "postgresql not reachable at $SIMPUL_PG_URL (run deploy/stack infra)"
ADMIN=$(mk_token admin) || die "cannot create an admin token"
MOD=$(mk_token moderator 35.07) || die "cannot create a moderator token"
CIT=$(mk_token citizen) || die "cannot create a citizen token"
# No broker: this test must not consume (and dead-letter) the shared topics.
start_service SIMPUL_KAFKA_BROKERS=127.0.0.1:9 SIMPUL_MODERATE_PORT=0 SIMPUL_MODERATE_CONSUMERS=1 \
	SIMPUL_MODERATE_RELAY=off \
	SIMPUL_MODERATE_GROUP="hostile-test-$$" SIMPUL_MODERATE_OFFSET_RESET=latest

NOID=00000000-0000-4000-8000-000000000000
Q=/v1/moderation/queue
LONG=$(printf 'a%.0s' {1..5000})
NEST=$(printf '[%.0s' {1..5000})
NESTO=$(printf '{"a":%.0s' {1..3000})

# Authorization
expect 401 GET $Q ""
expect 401 GET $Q garbage
expect 401 GET $Q simpul_
expect 401 GET $Q "simpul_$(printf 'A%.0s' {1..43})"
expect 401 GET $Q "$LONG"
expect 401 GET $Q $'simpul_\xff\xfe'
expect 403 GET $Q "$CIT"

# limits, depth, ages: integers in range or a 422 naming the argument
for v in -5 0 501 abc 5x '' 99999999999999999999999 1e3 0x10; do
	expect 422 GET "$Q?limit=$v" "$ADMIN" "" limit
	expect 422 GET "/v1/moderation/audit?limit=$v" "$ADMIN" "" limit
done
expect 200 GET "$Q?limit=1" "$ADMIN"
expect 200 GET "$Q?limit=500" "$ADMIN"
for v in -1 0 5 abc '' 99999999999999999999; do
	expect 422 GET "$Q/counts?depth=$v" "$ADMIN" "" depth
done
expect 200 GET "$Q/counts?depth=4" "$MOD"
for v in abc -1 99999999999999999999999 9223372036854775807 1.5; do
	expect 422 GET "$Q?min_age_s=$v" "$ADMIN" "" min_age_s
done
expect 200 GET "$Q?min_age_s=600" "$MOD"

# invalid UTF-8, NUL and odd bytes in filters
for f in type signal kind; do
	expect 422 GET "$Q?$f=%ff%fe" "$ADMIN" "" $f
	expect 422 GET "$Q?$f=%c3%28" "$ADMIN" "" $f
	expect 200 GET "$Q?$f=a%00b" "$ADMIN"
	expect 200 GET "$Q?$f=%22%27%5c" "$ADMIN"
done
expect 422 GET "/v1/moderation/audit?moderator=%ff" "$ADMIN" "" moderator
expect 422 GET "$Q?region=%ff" "$ADMIN" "" region
expect 422 GET "$Q?region=$LONG" "$ADMIN" "" region
expect 403 GET "$Q?region=36" "$MOD" "" region
expect 422 GET "/v1/moderation/audit?item=%ff" "$ADMIN" "" item
expect 422 GET "/v1/moderation/audit?item=${NOID:0:35}G" "$ADMIN" "" item

# bad ids in paths
for id in %ff%fe zzz $NOID "$LONG" "$NOID%20" "..%2F..%2Fetc"; do
	expect 404 GET "/v1/moderation/items/$id" "$ADMIN"
	expect 404 POST "/v1/moderation/items/$id/claim" "$ADMIN"
	expect 404 POST "/v1/moderation/items/$id/release" "$ADMIN"
	expect 404 POST "/v1/moderation/items/$id/decision" "$ADMIN" '{"decision":"approve"}'
	expect 404 POST "/v1/moderation/kims/$id/decision" "$ADMIN" '{"decision":"verify"}'
done

# bodies
D=/v1/moderation/items/$NOID/decision
for b in '{' 'null' '[]' '"x"' 7 "$NEST" "$NESTO" '{"decision":"approve","decision":"reject"}' \
	$'{"decision":"appr\xffove"}' '{"decision":"approve\u0000x"}'; do
	expect 400 POST "$D" "$ADMIN" "$b" null
done
expect 422 POST "$D" "$ADMIN" '{}' decision
expect 422 POST "$D" "$ADMIN" '{"decision":1}' decision
expect 422 POST "$D" "$ADMIN" '{"decision":["approve"]}' decision
expect 422 POST "$D" "$ADMIN" '{"decision":"reject"}' reason_code
expect 422 POST "$D" "$ADMIN" '{"decision":"reject","reason_code":7}' reason_code
expect 422 POST "$D" "$ADMIN" "{\"decision\":\"reject\",\"reason_code\":\"spam\",\"note\":\"$(printf 'n%.0s' {1..2001})\"}" note
expect 404 POST "$D" "$ADMIN" '{"decision":"approve","unknown":{"x":[1,2]}}'
B=/v1/moderation/decisions
for b in '{"ids":[]}' '{"ids":5}' '{"items":"x"}' '{"ids":{}}' \
	"{\"ids\":[$(for _ in $(seq 500); do printf '"a",'; done)\"a\"],\"decision\":\"approve\"}"; do
	expect 422 POST $B "$ADMIN" "$b" items
done
expect 422 POST $B "$ADMIN" '{"ids":["'$NOID'"],"decision":"bogus"}' decision
expect 422 POST $B "$ADMIN" '{"items":[{"id":"'$NOID'","decision":"approve"},{"id":"x","decision":"bogus"}]}' decision
expect 200 POST $B "$ADMIN" '{"ids":[1,null,[],{},"x"],"decision":"approve"}'
expect 400 POST $B "$ADMIN" "$NEST" null
expect 400 POST "/v1/moderation/items/$NOID/appeal" "$CIT" '[1]' null
expect 404 POST "/v1/moderation/items/$NOID/appeal" "$CIT" '{"note":"x"}'
expect 422 POST "/v1/moderation/items/$NOID/appeal" "$CIT" "{\"note\":\"$(printf 'n%.0s' {1..2001})\"}" note
expect 403 POST /v1/moderation/reload "$MOD"
expect 405 DELETE "$Q" "$ADMIN"

finish
