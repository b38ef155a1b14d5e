#!/usr/bin/env bash
# services/search/tests/search_hostile_test.sh - hostile HTTP input against
# GET /v1/search and GET /v1/content/{id}/similar: over-long and pathological
# queries (many quotes, OR chains, lone '-', control bytes, invalid UTF-8,
# unicode), bad limits, filters, dates, cursors and ids. Every refusal must be
# a 4xx naming the argument in the one error shape, no 5xx, no hang, and the
# AddressSanitizer build must not report anything on stderr.
#
# usage: search_hostile_test.sh <path of simpul-search>
# Needs the running stack (deploy/stack infra); fails loudly without it.
set -u
BIN=${1:?usage: search_hostile_test.sh <simpul-search>}
export SIMPUL_PG_URL=${SIMPUL_PG_URL:-postgresql://simpul@127.0.0.1:55432/simpul}
export SIMPUL_REDIS_HOST=${SIMPUL_REDIS_HOST:-127.0.0.1} SIMPUL_REDIS_PORT=${SIMPUL_REDIS_PORT:-56379}
export SIMPUL_KAFKA_BROKERS=${SIMPUL_KAFKA_BROKERS:-127.0.0.1:59092}
# The shared harness: start_service, mk_token, expect, finish, die.
. "$(dirname "$0")/../../../tests/support/sh/hostile.sh"

psql -qAt "$SIMPUL_PG_URL" -c 'SELECT 1' >/dev/null 2>&1 ||
	die "postgresql not reachable at $SIMPUL_PG_URL (run deploy/stack infra)"
# No consumer, no broker: the test reads the index as it is and changes nothing.
start_service SIMPUL_KAFKA_BROKERS=127.0.0.1:9 SIMPUL_SEARCH_CONSUME=off SIMPUL_SEARCH_PORT=0

S=/v1/search
NOID=00000000-0000-4000-8000-000000000000
LONG=$(printf 'a%.0s' {1..5000})

# q: caps and syntax
expect 400 GET "$S?q=$(printf 'a%.0s' {1..257})" "" "" q
expect 400 GET "$S?q=$(printf 'banjir%%20%.0s' {1..40})" "" "" q
expect 400 GET "$S?q=$(printf '%%22%.0s' {1..101})" "" "" q
expect 400 GET "$S?q=$(printf 'a%%20OR%%20%.0s' {1..20})b" "" "" q
for q in OR a%20OR OR%20a a%20OR%20OR%20b -a%20OR%20b --a -%22 %22a %ff%fe %c3%28 %01 a%7fb \
	%ed%a0%80 %f4%90%80%80 %c0%af; do
	expect 400 GET "$S?q=$q" "" "" q
done
for q in - -%20- a%20- %22%22 -%22%22 %22-%22 %e2%80%8b %f0%9f%98%80 %ef%bc%82banjir%ef%bc%82 %5c %27 \
	a:* '!%26|()' %22a%20OR%20b%22 yang%20dan a%00b banjir%20%2B%2B%2B; do
	expect 200 GET "$S?q=$q&limit=2"
done

# filters: every refusal names its argument
for v in 0 -1 101 99999999999999999999 abc 5x 1e2; do
	expect 400 GET "$S?limit=$v" "" "" limit
done
for v in %ff 35..07 35.7 "$LONG" 3a; do expect 400 GET "$S?region=$v" "" "" region; done
for v in berita,, %ff x ,berita; do expect 400 GET "$S?type=$v" "" "" type; done
for v in %ff x "$NOID%20"; do expect 400 GET "$S?kim=$v" "" "" kim; done
for v in %ff a%c3%28 , a,,b "$(printf 'a,%.0s' {1..11})a" "$(printf 't%.0s' {1..65})" %01; do
	expect 400 GET "$S?tags=$v" "" "" tags
done
for v in 2026-13-45 2026-02-30 2025-02-29 0000-01-01 2026-00-10 2026-04-31 9999999-01-01 %ff yesterday; do
	expect 400 GET "$S?from=$v" "" "" from
	expect 400 GET "$S?to=$v" "" "" to
done
expect 200 GET "$S?from=2024-02-29&to=2026-12-31&limit=1"
for v in x %ff RELEVANCE; do expect 400 GET "$S?sort=$v" "" "" sort; done
for v in 0 5 %ff -99999999999999999999 1.0; do expect 400 GET "$S?facet_level=$v" "" "" facet_level; done
for v in abc %ff%fe "$LONG" MXxyfDAuMT Zm9v.YmFy ...; do expect 400 GET "$S?cursor=$v" "" "" cursor; done

# similar
for v in 0 51 -1 abc 99999999999999999999; do
	expect 400 GET "/v1/content/$NOID/similar?limit=$v" "" "" limit
done
for id in %ff%fe x "$LONG" "$NOID%20" "${NOID:0:35}g"; do
	expect 400 GET "/v1/content/$id/similar" "" "" id
done
expect 404 GET "/v1/content/$NOID/similar"
expect 405 POST "$S" "" '{"q":"x"}'

finish
