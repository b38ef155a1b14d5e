/*
 * services/ingest/dbpool.c - a fixed pool of PostgreSQL connections for the
 * read paths (token look-ups, GET routes). Writes go through the committer.
 */
#include <pthread.h>
#include <stdlib.h>

#include "db/db.h"
#include "ingest.h"
#include "slog/slog.h"

struct ingest_dbpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	struct db_conn **all;
	struct db_conn **free_list;
	int nfree;
};

struct ingest_dbpool *ingest_dbpool_new(const char *url, int n, char *err, size_t errlen)
{
	struct db_conn_opts opts = {.application_name = "simpul-ingest",
				    .statement_timeout_ms = 10000,
				    .allow_down = true};
	struct ingest_dbpool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->all = calloc((size_t)n, sizeof(*p->all));
	p->free_list = calloc((size_t)n, sizeof(*p->free_list));
	if (!p->all || !p->free_list)
		goto fail;
	for (int i = 0; i < n; i++) {
		p->all[i] = db_conn_new_opts(url, &opts, err, errlen);
		if (!p->all[i])
			goto fail;
		p->n++;
		p->free_list[p->nfree++] = p->all[i];
	}
	return p;
fail:
	ingest_dbpool_free(p);
	return NULL;
}

void ingest_dbpool_free(struct ingest_dbpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++)
		db_conn_free(p->all[i]);
	free(p->all);
	free(p->free_list);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

struct db_conn *ingest_dbpool_get(struct ingest_dbpool *p)
{
	struct db_conn *c;

	pthread_mutex_lock(&p->mu);
	while (p->nfree == 0)
		pthread_cond_wait(&p->cv, &p->mu);
	c = p->free_list[--p->nfree];
	pthread_mutex_unlock(&p->mu);
	return c;
}

void ingest_dbpool_put(struct ingest_dbpool *p, struct db_conn *c)
{
	pthread_mutex_lock(&p->mu);
	p->free_list[p->nfree++] = c;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

bool ingest_dbpool_up(struct ingest_dbpool *p)
{
	for (int i = 0; i < p->n; i++)
		if (db_conn_up(p->all[i]))
			return true;
	return false;
}
