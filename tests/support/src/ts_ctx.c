/*
 * ts_ctx.c - the usual set-up of a cross-service test: settings, a
 * simpul-ingest of this build (which applies the migrations), a PostgreSQL
 * connection and the fixtures; and the matching teardown.
 */
#include "ts/ts.h"

#include <stdio.h>
#include <string.h>

#include <util/err.h>

int ts_ctx_setup(struct ts_ctx *ctx, const char *const *extra_env)
{
	char err[2048];
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	rc = ts_env_load(&ctx->env, err, sizeof(err));
	if (rc == 0)
		rc = ts_ingest_start(&ctx->ingest, &ctx->env, extra_env, 60000, err, sizeof(err));
	if (rc == 0) {
		ctx->pg = ts_pg_connect(ctx->env.pg_url, err, sizeof(err));
		rc = ctx->pg ? 0 : UTIL_EUNAVAIL;
	}
	if (rc == 0)
		rc = ts_fixture_create(&ctx->fx, ctx->pg, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "TEST SETUP FAILED (is the stack up? deploy/stack infra): %s\n", err);
	return rc;
}

int ts_ctx_teardown(struct ts_ctx *ctx)
{
	int st = ts_ingest_stop(&ctx->ingest, 20000);

	if (ctx->pg)
		PQfinish(ctx->pg);
	ctx->pg = NULL;
	ts_env_release(&ctx->env);
	return st;
}

const char *ts_ctx_url(struct ts_ctx *ctx, const char *path)
{
	snprintf(ctx->url, sizeof(ctx->url), "%s%s", ctx->ingest.base_url, path);
	return ctx->url;
}
