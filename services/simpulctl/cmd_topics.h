/*
 * cmd_topics.h - simpulctl's Kafka commands:
 *   simpulctl topics ensure   create every topic of the table and its DLQ
 *   simpulctl topics list     list the cluster's topics with partition counts
 *   simpulctl lag [GROUP...]  consumer lag per group/topic/partition (all
 *                             Simpul service groups when none is given)
 * argv[0] is the command word ("topics" or "lag"). Output on stdout, errors
 * on stderr; the return value is the process exit status (0 ok, 1 failure,
 * 2 usage).
 */
#ifndef SIMPULCTL_CMD_TOPICS_H
#define SIMPULCTL_CMD_TOPICS_H

int simpulctl_cmd_topics(const char *brokers, int argc, char **argv);
int simpulctl_cmd_lag(const char *brokers, int argc, char **argv);

#endif
