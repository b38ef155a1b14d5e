/*
 * db/pool.c - a fixed pool of PostgreSQL connections shared by threads.
 */
#include "db/pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/err.h"

struct db_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	struct db_conn **all;
	struct db_conn **free_list;
	int nfree;
};

struct db_pool *db_pool_new(const char *url, const struct db_conn_opts *opts, int n, char *err,
			    size_t errlen)
{
	struct db_pool *p;

	if (n <= 0) {
		util_err_set(err, errlen, UTIL_EINVAL, "pool size must be positive");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->all = calloc((size_t)n, sizeof(*p->all));
	p->free_list = calloc((size_t)n, sizeof(*p->free_list));
	if (!p->all || !p->free_list)
		goto fail;
	for (int i = 0; i < n; i++) {
		p->all[i] = opts ? db_conn_new_opts(url, opts, err, errlen)
				 : db_conn_new(url, err, errlen);
		if (!p->all[i])
			goto fail;
		p->n++;
		p->free_list[p->nfree++] = p->all[i];
	}
	return p;
fail:
	db_pool_free(p);
	return NULL;
}

void db_pool_free(struct db_pool *p)
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

struct db_conn *db_pool_get(struct db_pool *p)
{
	struct db_conn *c;

	pthread_mutex_lock(&p->mu);
	while (p->nfree == 0)
		pthread_cond_wait(&p->cv, &p->mu);
	c = p->free_list[--p->nfree];
	pthread_mutex_unlock(&p->mu);
	return c;
}

void db_pool_put(struct db_pool *p, struct db_conn *c)
{
	pthread_mutex_lock(&p->mu);
	p->free_list[p->nfree++] = c;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

bool db_pool_up(struct db_pool *p)
{
	for (int i = 0; i < p->n; i++)
		if (db_conn_up(p->all[i]))
			return true;
	return false;
}
