/*
 * regions_csv.h - parsing and validation of the Kemendagri region list
 * (format of wilayah-indonesia-2025/wilayah.csv: a header row
 * "kode,nama,level,jenis,parent_kode", RFC 4180 quoting, LF or CRLF).
 *
 * Only kode and nama are required; level, jenis and parent_kode, when
 * present, must agree with what the code implies (level from the number of
 * segments, parent by dropping the last one; jenis is derived when absent:
 * "Kota ..." is a kota, a village suffix starting with 1 a kelurahan).
 * Valid rows become COPY text-format lines for the table
 *   (line int, code text, name text, level smallint, kind text, parent_code text)
 * Checks that need the whole set (duplicates, parents present) are the
 * importer's, in SQL.
 */
#ifndef SIMPULCTL_REGIONS_CSV_H
#define SIMPULCTL_REGIONS_CSV_H

#include <stddef.h>

#include <util/buf.h>

#define REGIONS_CSV_MAX_FILE (64u << 20)  /* bytes */
#define REGIONS_CSV_MAX_RECORD 4096        /* bytes in one record */
#define REGIONS_CSV_MAX_ERRORS 50          /* error lines kept (all are counted) */
#define REGIONS_CSV_NAME_MAX 200           /* characters */

struct regions_csv {
	struct util_buf copy;   /* COPY text rows; owned, freed by regions_csv_release */
	struct util_buf errors; /* "FILE:LINE: message\n" for the first MAX_ERRORS bad lines */
	size_t rows;            /* valid data rows */
	size_t bad;             /* bad lines (or a bad header) in total */
};

void regions_csv_init(struct regions_csv *r);
void regions_csv_release(struct regions_csv *r);

/*
 * Parses data[len] (the whole file; fname is only used in messages) into r.
 * Returns 0 when parsing ran (r->bad says whether the file is acceptable),
 * UTIL_ETOOBIG over REGIONS_CSV_MAX_FILE, UTIL_ENOMEM.
 */
__attribute__((warn_unused_result)) int regions_csv_parse(struct regions_csv *r,
							  const char *data, size_t len,
							  const char *fname);

#endif
