/*
 * cmd_report.h - simpulctl's reporting commands:
 *   simpulctl report republish      mark every aggregate cell and KIM of the
 *                                   current generation dirty: simpul-report
 *                                   re-emits the whole of both report topics
 *   simpulctl regions context DIR   load population and area per region
 *                                   (wilayah_penduduk.csv, wilayah_luas.csv
 *                                   of wilayah-indonesia-2025) as optional
 *                                   dashboard context
 * Return value: the process exit status (0 ok, 1 failure, 2 usage).
 */
#ifndef SIMPULCTL_CMD_REPORT_H
#define SIMPULCTL_CMD_REPORT_H

#include "simpulctl.h"

int simpulctl_cmd_report(const struct simpulctl_ctx *ctx, int argc, char **argv);
/* argv[0] is "regions", argv[1] "context". */
int simpulctl_cmd_regions_context(const struct simpulctl_ctx *ctx, int argc, char **argv);

#endif
