/*
 * cmd_moderation.h - simpulctl's moderation commands (cmd_moderation.c):
 *   moderation train FILE          learn a labelled CSV into the classifier
 *   moderation eval FILE [...]     the evaluation on re_dataset.csv
 *   moderation thresholds PREFIX REVIEW REJECT   set a region's thresholds
 */
#ifndef SIMPULCTL_CMD_MODERATION_H
#define SIMPULCTL_CMD_MODERATION_H

#include "simpulctl.h"

int simpulctl_cmd_moderation(const struct simpulctl_ctx *ctx, int argc, char **argv);

#endif
