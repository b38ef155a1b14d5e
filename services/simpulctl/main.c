/*
 * main.c - simpulctl, Simpul's operator tool: loads the configuration and
 * dispatches to one command group (cmd_<group>.c). Exit status: 0 success,
 * 1 failure, 2 bad configuration or usage.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <config/config.h>
#include <slog/slog.h>

#include "cmd_dlq.h"
#include "cmd_moderation.h"
#include "cmd_report.h"
#include "cmd_search.h"
#include "cmd_topics.h"
#include "simpulctl.h"

static const char usage[] =
	"usage: simpulctl COMMAND [ARGS]\n"
	"\n"
	"  migrate                         apply the pending schema migrations\n"
	"  regions import FILE             load the Kemendagri region list (CSV:\n"
	"                                  kode,nama[,level,jenis,parent_kode])\n"
	"  users create --name N --role R [--email E] [--region PREFIX] [--kim UUID]\n"
	"                                  roles: citizen kim_member kim_admin moderator\n"
	"                                  analyst admin integration; prints the id\n"
	"  kims create --name N --region CODE [--status S] [--decree-number X\n"
	"              --decree-date YYYY-MM-DD] [--fields a,b,c]   prints the id\n"
	"  tokens create --user UUID [--label L] [--ttl-days N]\n"
	"                                  prints the token once (only its hash is kept)\n"
	"  tokens revoke ID                revoke a token by its id\n"
	"  topics ensure | topics list     Kafka topics (with their .dlq)\n"
	"  lag [GROUP...]                  consumer lag per group\n"
	"  dlq list | show TOPIC.dlq [--limit N] | replay TOPIC.dlq [--limit N] [--dry-run]\n"
	"                                  dead-letter topics (simpulctl dlq help)\n"
	"  moderation train FILE | eval FILE [--lists C:PATH] | thresholds PREFIX REVIEW REJECT\n"
	"                                  classifier training, evaluation, thresholds\n"
	"  search reindex [--lexicon PATH] rebuild the search index aside, switch atomically\n"
	"  regions context DIR             population/area (wilayah_penduduk.csv, wilayah_luas.csv)\n"
	"  report republish                re-emit both report topics in full\n"
	"  help                            this text and the configuration variables\n";

struct group {
	const char *name;
	int (*run)(const struct simpulctl_ctx *ctx, int argc, char **argv);
};

static int run_topics(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	return simpulctl_cmd_topics(ctx->brokers, argc, argv);
}

static int run_regions(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "context"))
		return simpulctl_cmd_regions_context(ctx, argc, argv);
	return simpulctl_cmd_regions(ctx, argc, argv);
}

static int run_lag(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	return simpulctl_cmd_lag(ctx->brokers, argc, argv);
}

static int run_dlq(const struct simpulctl_ctx *ctx, int argc, char **argv)
{
	return simpulctl_cmd_dlq(ctx->brokers, argc, argv);
}

static const struct group groups[] = {
	{"migrate", simpulctl_cmd_migrate}, {"regions", run_regions},
	{"users", simpulctl_cmd_users},	    {"kims", simpulctl_cmd_kims},
	{"tokens", simpulctl_cmd_tokens},   {"topics", run_topics},
	{"lag", run_lag},		    {"moderation", simpulctl_cmd_moderation},
	{"search", simpulctl_cmd_search},
	{"report", simpulctl_cmd_report},   {"dlq", run_dlq},
};

int main(int argc, char **argv)
{
	char *pg_url = NULL, *brokers = NULL, *log_level = NULL;
	const struct config_item cfg[] = {
		{"SIMPUL_PG_URL", CONFIG_STRING, "postgresql://simpul@127.0.0.1:55432/simpul", 1,
		 4096, true, &pg_url, "PostgreSQL connection URL"},
		{"SIMPUL_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:59092", 1, 4096, false, &brokers,
		 "Kafka bootstrap brokers (host:port,...)"},
		{"SIMPUL_LOG_LEVEL", CONFIG_STRING, "warn", 1, 16, false, &log_level,
		 "log level: debug, info, warn, error"},
	};
	const size_t ncfg = sizeof cfg / sizeof cfg[0];
	struct simpulctl_ctx ctx;
	enum slog_level lvl = SLOG_WARN;
	char err[2048];
	int rc = SIMPULCTL_USAGE;

	slog_init("simpulctl", SLOG_WARN);
	if (config_load(cfg, ncfg, err, sizeof err)) {
		fprintf(stderr, "simpulctl: bad configuration:\n%s\n", err);
		goto out;
	}
	if (!slog_level_parse(log_level, &lvl)) {
		fprintf(stderr, "simpulctl: bad SIMPUL_LOG_LEVEL \"%s\"\n", log_level);
		goto out;
	}
	slog_init("simpulctl", lvl);
	ctx.pg_url = pg_url;
	ctx.brokers = brokers;
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		if (argc >= 2) {
			printf("\nconfiguration (environment):\n");
			config_print_help(cfg, ncfg);
			rc = SIMPULCTL_OK;
		}
		goto out;
	}
	for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
		if (!strcmp(argv[1], groups[i].name)) {
			rc = groups[i].run(&ctx, argc - 1, argv + 1);
			goto out;
		}
	}
	fprintf(stderr, "simpulctl: unknown command \"%s\" (try simpulctl help)\n", argv[1]);
out:
	config_release(cfg, ncfg);
	return rc;
}
