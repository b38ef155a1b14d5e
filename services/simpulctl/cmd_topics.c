/*
 * cmd_topics.c - simpulctl's Kafka commands: "topics ensure" creates every
 * topic of the table (libs/events) with its dead-letter topic, "topics list"
 * shows the cluster's topics, "lag" shows consumer lag per group.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <events/topics.h>
#include <kafka/admin.h>

#include "cmd_topics.h"

#define CMD_TIMEOUT_MS 15000
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

static const char *const service_groups[] = {
	"simpul-ingest", "simpul-moderate", "simpul-search", "simpul-notify", "simpul-report",
};

static const char topics_usage[] =
	"usage: simpulctl topics ensure [--replication N]\n"
	"       simpulctl topics list\n";

static int parse_replication(int argc, char **argv, int *out)
{
	for (int i = 2; i < argc; i++) {
		const char *v = NULL;
		char *end = NULL;
		if (strncmp(argv[i], "--replication=", 14) == 0)
			v = argv[i] + 14;
		else if (strcmp(argv[i], "--replication") == 0 && i + 1 < argc)
			v = argv[++i];
		else
			return -1;
		long r = strtol(v, &end, 10);
		if (!*v || *end || r < 1 || r > 16)
			return -1;
		*out = (int)r;
	}
	return 0;
}

/* Partition count of name in the listing, or -1. */
static int listed_partitions(const struct kafka_topic_info *ti, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ti[i].name, name) == 0)
			return ti[i].partitions;
	return -1;
}

static int report_ensure(const char *brokers, const struct kafka_topic_spec *specs,
			 const enum kafka_topic_result *res, size_t n)
{
	struct kafka_topic_info *ti = NULL;
	size_t nti = 0, created = 0, found = 0;
	char err[512];
	int rc = EXIT_OK;

	if (kafka_topics_list(brokers, CMD_TIMEOUT_MS, &ti, &nti, err, sizeof err))
		fprintf(stderr, "simpulctl: cannot list topics: %s\n", err);
	for (size_t i = 0; i < n; i++) {
		int have = listed_partitions(ti, nti, specs[i].name);
		const char *what = res[i] == KAFKA_TOPIC_CREATED    ? "created"
				   : res[i] == KAFKA_TOPIC_EXISTED  ? "exists"
				   : res[i] == KAFKA_TOPIC_MISMATCH ? "MISMATCH (partition count differs)"
								    : "FAILED";
		printf("%-8s %-36s partitions=%d%s\n", what, specs[i].name,
		       have >= 0 ? have : specs[i].partitions,
		       specs[i].compacted ? " compacted" : "");
		if (res[i] == KAFKA_TOPIC_CREATED)
			created++;
		else if (res[i] == KAFKA_TOPIC_EXISTED)
			found++;
		if (have >= 0 && have != specs[i].partitions) {
			fprintf(stderr, "simpulctl: topic \"%s\" has %d partitions, expected %d\n",
				specs[i].name, have, specs[i].partitions);
			rc = EXIT_FAIL;
		}
	}
	printf("%zu created, %zu already there\n", created, found);
	free(ti);
	return rc;
}

static int topics_ensure(const char *brokers, int argc, char **argv)
{
	struct kafka_topic_spec specs[64];
	enum kafka_topic_result res[64];
	int replication = 1, rc, out;
	char err[2048];
	size_t n;

	if (parse_replication(argc, argv, &replication)) {
		fputs(topics_usage, stderr);
		return EXIT_USAGE;
	}
	n = events_topic_specs(specs, sizeof specs / sizeof specs[0], replication);
	rc = kafka_topics_ensure(brokers, specs, n, CMD_TIMEOUT_MS, res, err, sizeof err);
	if (rc)
		fprintf(stderr, "simpulctl: topics ensure: %s\n", err);
	out = report_ensure(brokers, specs, res, n);
	return rc ? EXIT_FAIL : out;
}

static int topics_list(const char *brokers)
{
	struct kafka_topic_info *ti = NULL;
	size_t n = 0;
	char err[512];

	if (kafka_topics_list(brokers, CMD_TIMEOUT_MS, &ti, &n, err, sizeof err)) {
		fprintf(stderr, "simpulctl: topics list: %s\n", err);
		return EXIT_FAIL;
	}
	printf("%-40s %10s %11s\n", "TOPIC", "PARTITIONS", "REPLICATION");
	for (size_t i = 0; i < n; i++)
		printf("%-40s %10d %11d\n", ti[i].name, ti[i].partitions, ti[i].replication);
	free(ti);
	return EXIT_OK;
}

int simpulctl_cmd_topics(const char *brokers, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "ensure") == 0)
		return topics_ensure(brokers, argc, argv);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return topics_list(brokers);
	fputs(topics_usage, stderr);
	return EXIT_USAGE;
}

/* Prints one group's lag; returns 0 or -1 when it could not be read. */
static int group_lag_print(const char *brokers, const char *group)
{
	struct kafka_partition_lag *l = NULL;
	size_t n = 0;
	int64_t total = 0;
	char err[512];

	if (kafka_group_lag(brokers, group, NULL, 0, CMD_TIMEOUT_MS, &l, &n, err, sizeof err)) {
		fprintf(stderr, "simpulctl: lag of \"%s\": %s\n", group, err);
		return -1;
	}
	if (n == 0)
		printf("%-18s (no committed offsets)\n", group);
	for (size_t i = 0; i < n; i++) {
		printf("%-18s %-36s %4" PRId32 " %10" PRId64 " %10" PRId64 " %8" PRId64 "\n",
		       group, l[i].topic, l[i].partition, l[i].committed, l[i].high, l[i].lag);
		total += l[i].lag;
	}
	if (n)
		printf("%-18s %-36s %4s %10s %10s %8" PRId64 "\n", group, "TOTAL", "", "", "",
		       total);
	free(l);
	return 0;
}

int simpulctl_cmd_lag(const char *brokers, int argc, char **argv)
{
	const char *const *groups = service_groups;
	size_t n = sizeof service_groups / sizeof service_groups[0];
	int failed = 0;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] == '-') {
			fputs("usage: simpulctl lag [GROUP...]\n", stderr);
			return EXIT_USAGE;
		}
	if (argc > 1) {
		groups = (const char *const *)(argv + 1);
		n = (size_t)argc - 1;
	}
	printf("%-18s %-36s %4s %10s %10s %8s\n", "GROUP", "TOPIC", "PART", "COMMITTED", "HIGH",
	       "LAG");
	for (size_t i = 0; i < n; i++)
		failed |= group_lag_print(brokers, groups[i]) != 0;
	return failed ? EXIT_FAIL : EXIT_OK;
}
