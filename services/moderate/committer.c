/*
 * services/moderate/committer.c - group commit for the automatic pipeline.
 * Consumer threads hand their decision to the committer and wait; the
 * committer thread writes everything waiting (up to max_batch items) in
 * ONE transaction, so N consumers share one fsync. If one item fails, the
 * batch is rolled back and its items are written one by one, so a bad item
 * never fails its neighbours.
 */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "mod_store.h"
#include "util/err.h"

struct job {
	const struct mod_auto_row *row;
	const struct mod_result *r;
	json_t *outbox;
	bool inserted, done;
	int rc;
	char err[256];
	struct job *next;
};

struct mod_committer {
	struct db_conn *db;
	int max_batch;
	pthread_t thread;
	bool started, stopping;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct job *head, *tail;
};

static void write_batch(struct mod_committer *c, struct job *batch)
{
	char err[256];
	bool failed = false;
	int rc = db_begin(c->db, err, sizeof(err));

	for (struct job *j = batch; rc == 0 && j && !failed; j = j->next) {
		j->rc = mod_store_auto(c->db, j->row, j->r, j->outbox, &j->inserted, j->err,
				       sizeof(j->err));
		failed = j->rc != 0;
	}
	if (rc == 0 && !failed)
		rc = db_commit(c->db, err, sizeof(err));
	else
		db_rollback(c->db, NULL, 0);
	if (rc != 0 && !failed) {
		for (struct job *j = batch; j; j = j->next) {
			j->rc = rc;
			memcpy(j->err, err, sizeof(err));
		}
		return;
	}
	for (struct job *j = batch; failed && j; j = j->next) /* one by one */
		j->rc = mod_store_auto(c->db, j->row, j->r, j->outbox, &j->inserted, j->err,
				       sizeof(j->err));
}

static void *committer_main(void *p)
{
	struct mod_committer *c = p;

	for (;;) {
		struct job *batch, *last;
		int n = 1;

		pthread_mutex_lock(&c->mu);
		while (!c->head && !c->stopping)
			pthread_cond_wait(&c->work, &c->mu);
		if (!c->head) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		batch = last = c->head;
		while (last->next && n < c->max_batch) {
			last = last->next;
			n++;
		}
		c->head = last->next;
		if (!c->head)
			c->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&c->mu);
		write_batch(c, batch);
		pthread_mutex_lock(&c->mu);
		for (struct job *j = batch; j; j = j->next)
			j->done = true;
		pthread_cond_broadcast(&c->done);
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

struct mod_committer *mod_committer_new(const char *pg_url, int max_batch, char *err,
					size_t errlen)
{
	struct db_conn_opts o = {.application_name = "simpul-moderate-committer",
				 .statement_timeout_ms = 30000,
				 .allow_down = true};
	struct mod_committer *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->max_batch = max_batch > 0 ? max_batch : 64;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->done, NULL);
	c->db = db_conn_new_opts(pg_url, &o, err, errlen);
	if (!c->db || pthread_create(&c->thread, NULL, committer_main, c) != 0) {
		mod_committer_free(c);
		return NULL;
	}
	c->started = true;
	return c;
}

int mod_committer_store(struct mod_committer *c, const struct mod_auto_row *row,
			const struct mod_result *r, json_t *outbox, bool *inserted, char *err,
			size_t errlen)
{
	struct job j = {.row = row, .r = r, .outbox = outbox};

	pthread_mutex_lock(&c->mu);
	if (c->tail)
		c->tail->next = &j;
	else
		c->head = &j;
	c->tail = &j;
	pthread_cond_signal(&c->work);
	while (!j.done)
		pthread_cond_wait(&c->done, &c->mu);
	pthread_mutex_unlock(&c->mu);
	*inserted = j.inserted;
	if (j.rc != 0)
		util_err_set(err, errlen, j.rc, "%s", j.err);
	return j.rc;
}

void mod_committer_free(struct mod_committer *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stopping = true;
		pthread_cond_signal(&c->work);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
	}
	db_conn_free(c->db);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
