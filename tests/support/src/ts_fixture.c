/*
 * ts_fixture.c - test fixtures written straight into the simpul schema
 * with SQL: real Kemendagri region codes (inserted when missing), two
 * verified KIMs, and one user with a fresh API token per role. Names carry a
 * per-run tag so concurrent and repeated runs never collide.
 */
#include "ts/ts.h"

#include <stdio.h>
#include <string.h>

#include <util/err.h>
#include <util/ids.h>

/* Real codes from the Kemendagri list (wilayah-indonesia-2025). */
static const char *const region_rows[][5] = {
	{"35", "Jawa Timur", "1", "provinsi", NULL},
	{"35.07", "Kabupaten Malang", "2", "kabupaten", "35"},
	{"35.07.12", "Sumberpucung", "3", "kecamatan", "35.07"},
	{"35.07.12.2001", "Ternyang", "4", "desa", "35.07.12"},
	{"35.07.12.2002", "Senggreng", "4", "desa", "35.07.12"},
	{"11", "Aceh", "1", "provinsi", NULL},
	{"11.01", "Kabupaten Aceh Selatan", "2", "kabupaten", "11"},
	{"11.01.01", "Bakongan", "3", "kecamatan", "11.01"},
	{"11.01.01.2001", "Keude Bakongan", "4", "desa", "11.01.01"},
};

static const char *const role_names[TS_ROLE_COUNT] = {
	"kim_admin", "kim_member", "kim_member", "citizen", "moderator",
	"analyst",   "admin",      "integration", "kim_admin",
};

static int insert_regions(PGconn *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(region_rows) / sizeof(region_rows[0]); i++) {
		PGresult *res = ts_pg_query(
			c,
			"INSERT INTO simpul.regions (code, name, level, kind, parent_code)"
			" VALUES ($1, $2, $3::smallint, $4, $5) ON CONFLICT (code) DO NOTHING",
			5, region_rows[i], err, errlen);
		if (!res)
			return UTIL_EIO;
		PQclear(res);
	}
	return 0;
}

static int insert_kim(PGconn *c, const char *name, const char *region, char *id_out,
		      char *err, size_t errlen)
{
	const char *p[] = {name, region};
	PGresult *res = ts_pg_query(c,
				    "INSERT INTO simpul.kims (name, region_code, status, decree_number,"
				    " decree_date, fields) VALUES ($1, $2, 'verified', 'SK/1/2024',"
				    " '2024-01-15', '{berita}') RETURNING id",
				    2, p, err, errlen);

	if (!res)
		return UTIL_EIO;
	snprintf(id_out, 40, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* "simpul_" + 43 base64url characters from 32 random bytes. */
static int make_token(char out[64])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33] = {0};
	size_t o = 7;

	if (util_random_bytes(raw, 32) < 0)
		return UTIL_EIO;
	memcpy(out, "simpul_", 7);
	for (size_t i = 0; i < 33 && o < 50; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
		for (int k = 3; k >= 0 && o < 50; k--)
			out[o++] = b64[(v >> (6 * k)) & 63];
	}
	out[o] = '\0';
	return 0;
}

static int insert_user(PGconn *c, const struct ts_fixture *fx, enum ts_role role,
		       struct ts_user *u, char *err, size_t errlen)
{
	unsigned char hash[32];
	char name[96], hex[65];
	const char *kim = role == TS_KIM_ADMIN || role == TS_KIM_MEMBER || role == TS_REVOKED
				  ? fx->kim_id
			  : role == TS_OTHER_MEMBER ? fx->other_kim_id
						    : NULL;
	const char *prefix = role == TS_MODERATOR ? "35.07" : NULL;
	PGresult *res;

	if (make_token(u->token) < 0)
		return util_err_set(err, errlen, UTIL_EIO, "no random bytes");
	util_sha256(u->token, strlen(u->token), hash);
	util_hex(hash, 32, hex);
	snprintf(name, sizeof(name), "test %s %s %d", fx->run, role_names[role], (int)role);
	const char *p[] = {name, role_names[role], kim, prefix, hex,
			   role == TS_REVOKED ? "t" : "f"};
	res = ts_pg_query(c,
			  "WITH u AS (INSERT INTO simpul.users (name, role, kim_id, region_prefix)"
			  " VALUES ($1, $2, $3::uuid, $4) RETURNING id)"
			  " INSERT INTO simpul.api_tokens (user_id, token_hash, label, revoked_at)"
			  " SELECT id, decode($5, 'hex'), 'test',"
			  " CASE WHEN $6::bool THEN now() END FROM u RETURNING user_id",
			  6, p, err, errlen);
	if (!res)
		return UTIL_EIO;
	snprintf(u->id, sizeof(u->id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int ts_fixture_create(struct ts_fixture *fx, PGconn *c, char *err, size_t errlen)
{
	char trace[UTIL_TRACE_STRLEN + 1], name[96];
	int rc;

	memset(fx, 0, sizeof(*fx));
	util_trace_id(trace);
	snprintf(fx->run, sizeof(fx->run), "%.16s", trace);
	fx->desa = "35.07.12.2001";
	fx->desa2 = "35.07.12.2002";
	fx->kecamatan = "35.07.12";
	fx->other_desa = "11.01.01.2001";
	rc = insert_regions(c, err, errlen);
	snprintf(name, sizeof(name), "KIM Uji %s", fx->run);
	rc = rc ? rc : insert_kim(c, name, fx->desa, fx->kim_id, err, errlen);
	snprintf(name, sizeof(name), "KIM Lain %s", fx->run);
	rc = rc ? rc : insert_kim(c, name, fx->other_desa, fx->other_kim_id, err, errlen);
	for (int r = 0; rc == 0 && r < TS_ROLE_COUNT; r++)
		rc = insert_user(c, fx, (enum ts_role)r, &fx->users[r], err, errlen);
	return rc;
}

void ts_key(const struct ts_fixture *fx, const char *name, char *out, size_t outlen)
{
	static unsigned counter;

	snprintf(out, outlen, "t-%s-%s-%u", fx->run, name, ++counter);
}
