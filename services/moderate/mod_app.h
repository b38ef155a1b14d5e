/*
 * services/moderate/mod_app.h - the running service's parts (app.c), shared
 * with the HTTP side (review.c, routes.c).
 */
#ifndef MODERATE_MOD_APP_H
#define MODERATE_MOD_APP_H

#include <jansson.h>

#include "auth/auth.h"
#include "http/http.h"
#include "mod_pipeline.h"

struct db_pool;

struct mod_app {
	const struct mod_config *cfg;
	struct metrics_registry *reg;
	struct mod_state state;
	bool state_ready;
	struct cache *cache;
	struct auth *auth;
	struct db_pool *pool;
	struct outbox_relay *relay; /* NULL when SIMPUL_MODERATE_RELAY=off */
	struct mod_committer *committer;
	struct mod_pipeline pipeline;
	bool pipeline_started;
	struct http_server *http;
};

/* A fixed pool of PostgreSQL connections for HTTP requests (app.c). */

/* The result of one human action: HTTP status and JSON body (owned). */
struct mod_reply {
	int status;
	const char *code;   /* error code when status >= 400 */
	char message[256];
	json_t *body;       /* success body (or extra error detail) */
};

/* One human decision on the item's pending version (review.c). decision is
 * MOD_APPROVE or MOD_REJECT (for a KIM: verify / reject). */
void mod_review_decide(struct mod_app *a, struct db_conn *db, const struct auth_principal *p,
		       const char *item_id, enum mod_decision decision, const char *reason,
		       const char *note, struct mod_reply *out);
/* Claims the item for p for claim_ttl_ms (or releases it). */
void mod_review_claim(struct mod_app *a, struct db_conn *db, const struct auth_principal *p,
		      const char *item_id, bool release, struct mod_reply *out);
/* The author appeals a rejection (once). */
void mod_review_appeal(struct mod_app *a, struct db_conn *db, const struct auth_principal *p,
		       const char *item_id, const char *note, struct mod_reply *out);

/* The HTTP routes (routes.c). */
extern const struct http_route mod_routes[];
extern const size_t mod_routes_count;

#endif
