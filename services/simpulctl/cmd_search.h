/*
 * cmd_search.h - simpulctl's search commands (cmd_search.c):
 *   search reindex [--lexicon PATH]   rebuild the search store aside with the
 *                                     current text pipeline and switch to it
 *                                     atomically while queries are served
 */
#ifndef SIMPULCTL_CMD_SEARCH_H
#define SIMPULCTL_CMD_SEARCH_H

#include "simpulctl.h"

int simpulctl_cmd_search(const struct simpulctl_ctx *ctx, int argc, char **argv);

#endif
