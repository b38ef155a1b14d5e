/*
 * cmd_dlq.h - simpulctl's dead-letter commands (cmd_dlq.c):
 *   simpulctl dlq list                                 every <topic>.dlq, offsets, pending
 *   simpulctl dlq show TOPIC.dlq [--limit N]           its records and DLQ headers
 *   simpulctl dlq replay TOPIC.dlq [--limit N] [--dry-run]
 *                                                      re-produce to TOPIC, then commit
 * argv[0] is "dlq". Output on stdout, errors on stderr; the return value is
 * the process exit status (0 ok, 1 failure, 2 usage).
 */
#ifndef SIMPULCTL_CMD_DLQ_H
#define SIMPULCTL_CMD_DLQ_H

int simpulctl_cmd_dlq(const char *brokers, int argc, char **argv);

#endif
