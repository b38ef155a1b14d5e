#!/usr/bin/env bash
# services/notify/tests/notify_hostile_test.sh - hostile HTTP input against the
# subscriptions API: malformed and deeply nested JSON, wrong JSON types for
# every field, invalid UTF-8 and NUL, huge values and counts, hostile webhook
# URLs and e-mail addresses, bad ids in paths, garbage Authorization headers.
# Every refusal must be a 4xx naming the field in the one error shape, no 5xx,
# no hang, no subscription half-created, and no AddressSanitizer report.
#
# usage: notify_hostile_test.sh <path of simpul-notify>
# Needs the running stack (deploy/stack infra); fails loudly without it.
set -u
BIN=${1:?usage: notify_hostile_test.sh <simpul-notify>}
export SIMPUL_PG_URL=${SIMPUL_PG_URL:-postgresql://simpul@127.0.0.1:55432/simpul}
export SIMPUL_REDIS_HOST=${SIMPUL_REDIS_HOST:-127.0.0.1} SIMPUL_REDIS_PORT=${SIMPUL_REDIS_PORT:-56379}
export SIMPUL_KAFKA_BROKERS=${SIMPUL_KAFKA_BROKERS:-127.0.0.1:59092}
# The shared harness: start_service, mk_token, expect, finish, die.
. "$(dirname "$0")/../../../tests/support/sh/hostile.sh"

psql -qAt "$SIMPUL_PG_URL" -c 'SELECT 1' >/dev/null 2>&1 ||
	die "postgresql not reachable at $SIMPUL_PG_URL (run deploy/stack infra)"
USER_T=$(mk_token citizen) || die "cannot create a citizen token"
MOD=$(mk_token moderator 35.07) || die "cannot create a moderator token"
REALM="hostile-test-$$"
# Own realm, no consumer, no relay, no broker: nothing outside this test changes.
start_service SIMPUL_KAFKA_BROKERS=127.0.0.1:9 SIMPUL_NOTIFY_PORT=0 SIMPUL_NOTIFY_REALM="$REALM" \
	SIMPUL_NOTIFY_CONSUME=off SIMPUL_NOTIFY_RELAY=off

P=/v1/subscriptions
NOID=00000000-0000-4000-8000-000000000000
LONG=$(printf 'k%.0s' {1..5000})
NEST=$(printf '[%.0s' {1..5000})
NESTO=$(printf '{"a":%.0s' {1..3000})
OK='"channel":"webhook","target":"https://hooks.example.org/x","kinds":["content.published"]'

expect 401 GET $P ""
expect 401 GET $P garbage
expect 401 GET $P "simpul_$(printf 'A%.0s' {1..43})"
expect 401 GET $P "$LONG"
expect 401 GET $P $'simpul_\xff\xfe'

for b in '{' null '[]' '"x"' 7 "$NEST" "$NESTO" "{$OK,\"mode\":\"daily\",\"mode\":\"hourly\"}" \
	$'{"channel":"web\xffhook"}' '{"channel":"webhook\u0000"}'; do
	expect 400 POST $P "$USER_T" "$b" null
done
expect 422 POST $P "$USER_T" '{}' channel
# jansson refuses an integer beyond 64 bits as malformed JSON
expect 400 POST $P "$USER_T" "{$OK,\"mode\":\"daily\",\"digest_hour\":99999999999999999999}" null
# wrong JSON types are refused, never read as "absent" (and defaulted)
for v in 5 true '["x"]' '{"a":1}' 1.5; do
	expect 422 POST $P "$USER_T" "{\"channel\":$v,\"target\":\"https://x.org/\",\"kinds\":[\"diseminasi\"]}" channel
	expect 422 POST $P "$USER_T" "{\"channel\":\"webhook\",\"target\":$v,\"kinds\":[\"diseminasi\"]}" target
	for f in region_prefix content_type kim_id mode tz; do
		expect 422 POST $P "$USER_T" "{$OK,\"$f\":$v}" $f
	done
done
for v in '"x"' 24 -1 1.5 true null; do
	expect 422 POST $P "$USER_T" "{$OK,\"mode\":\"daily\",\"digest_hour\":$v}" digest_hour
done
for v in '"x"' '[]' '[1]' '["nope"]' '["content.published","content.published","content.published","content.published","content.published","content.published"]' 5; do
	expect 422 POST $P "$USER_T" "{\"channel\":\"webhook\",\"target\":\"https://hooks.example.org/x\",\"kinds\":$v}" kinds
done
expect 403 POST $P "$USER_T" '{"channel":"webhook","target":"https://hooks.example.org/x","kinds":["review.awaiting"]}' kinds
expect 403 POST $P "$MOD" '{"channel":"webhook","target":"https://hooks.example.org/x","kinds":["review.awaiting"],"region_prefix":"36"}'
for v in '"x"' '[5]' '[""]' '["k"]' "[\"$LONG\"]" "[$(for i in $(seq 25); do printf '"k%d",' $i; done)\"z\"]"; do
	expect 422 POST $P "$USER_T" "{$OK,\"keywords\":$v}" keywords
done
for v in '"%ff"' '"35..07"' '"35.7"' "\"$LONG\"" '"35.07%"'; do
	expect 422 POST $P "$USER_T" "{$OK,\"region_prefix\":$v}" region_prefix
done
expect 422 POST $P "$USER_T" "{$OK,\"content_type\":\"x\"}" content_type
expect 422 POST $P "$USER_T" "{$OK,\"kim_id\":\"x\"}" kim_id
expect 422 POST $P "$USER_T" "{$OK,\"mode\":\"weekly\"}" mode
expect 422 POST $P "$USER_T" "{$OK,\"tz\":\"UTC\"}" tz
for t in http://hooks.example.org/x https://u:p@hooks.example.org/x 'https://[::ffff:10.0.0.1]/x' \
	https://hooks.example.org:99999/x https:// "https://$LONG.org/x" 'https://hooks.example.org/x\r\nX: y' \
	https://10.1.2.3/x https://169.254.169.254/ https://localhost/x 'https://[::1]/x' ftp://x.org/ \
	https://0x7f000001/ https://2130706433/ \
	https://127.1/ https://0177.0.0.1/ https://10.1/ https://localhost./; do
	expect 422 POST $P "$USER_T" "{\"channel\":\"webhook\",\"target\":\"$t\",\"kinds\":[\"content.published\"]}" target
done
for t in not-an-email 'a@b.c\r\nBcc: x@y.z' '@b.c' 'a@' "$LONG@x.org" 'a b@c.d'; do
	expect 422 POST $P "$USER_T" "{\"channel\":\"email\",\"target\":\"$t\",\"kinds\":[\"content.published\"]}" target
done
expect 413 POST $P "$USER_T" "{$OK,\"x\":\"$(head -c 2000000 /dev/zero | tr '\0' x)\"}"
# nothing above left a subscription behind
n=$(curl -s -m 10 -H "Authorization: Bearer $USER_T" "$BASE$P" | jq '.subscriptions | length')
[ "$n" = 0 ] || { echo "FAIL: refused requests left $n subscriptions" >&2; FAILS=$((FAILS + 1)); }

# bad ids in paths
for id in %ff%fe x $NOID "$LONG" "$NOID%20"; do
	expect 404 GET "$P/$id" "$USER_T"
	expect 404 DELETE "$P/$id" "$USER_T"
	expect 404 POST "$P/$id/rotate-secret" "$USER_T"
	expect 404 GET "$P/$id/deliveries" "$USER_T"
	expect 404 POST "/v1/deliveries/$id/redeliver" "$USER_T"
done
for q in limit=-1 limit=abc cursor=%ff limit=99999999999999999999; do
	expect 200 GET "$P?$q" "$USER_T"
done
expect 405 PUT "$P/$NOID" "$USER_T"

finish
