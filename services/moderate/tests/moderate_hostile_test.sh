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
# The shared harness: start_service, mk_token, expect, finish, die.
. "$(dirname "$0")/../../../tests/support/sh/hostile.sh"

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
