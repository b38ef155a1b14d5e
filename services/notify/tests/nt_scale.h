/*
 * services/notify/tests/nt_scale.h - the 100,000 generated subscriptions of
 * the scale test and the benchmark's matching run (one statement, so both
 * measure the same population): regions spread like the real tree (5 %
 * province, 15 % kabupaten, 30 % kecamatan, 50 % desa), a third filtered by
 * type, all e-mail. $1 realm, $2 owner (uuid).
 */
#ifndef NOTIFY_TESTS_NT_SCALE_H
#define NOTIFY_TESTS_NT_SCALE_H

#define NT_SCALE_NSUBS "100000"

#define NT_SCALE_SUBS_SQL                                                                          \
	"WITH g AS (SELECT i, lpad((11 + i % 84)::text, 2, '0') AS p, "                            \
	"lpad((1 + (i / 84) % 40)::text, 2, '0') AS k, lpad((1 + (i / 3360) % 30)::text, 2, "      \
	"'0') AS c, (2001 + (i / 7) % 20)::text AS d FROM generate_series(1, " NT_SCALE_NSUBS       \
	") i), "                                                                                   \
	"s AS (INSERT INTO simpul.notify_subscriptions (realm, owner_id, channel, target, "         \
	"kinds, region_prefix, content_type, secret) SELECT $1, $2::uuid, 'email', "               \
	"'s' || i || '@example.test', '{content.published}', CASE WHEN i % 20 = 0 THEN p "         \
	"WHEN i % 20 < 4 THEN p || '.' || k WHEN i % 20 < 10 THEN p || '.' || k || '.' || c "      \
	"ELSE p || '.' || k || '.' || c || '.' || d END, CASE WHEN i % 3 = 0 THEN 'berita' END, "  \
	"'whsec_x' FROM g RETURNING id, realm, region_prefix, content_type) "                      \
	"INSERT INTO simpul.notify_sub_match (realm, kind, scope, content_type, "                  \
	"subscription_id) SELECT realm, 'content.published', region_prefix, content_type, id "     \
	"FROM s"

#endif
