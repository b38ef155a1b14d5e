/*
 * regions_csv_test.c - the region list reader: RFC 4180 quoting, CRLF,
 * derived level/kind/parent, and every bad line reported by number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "regions_csv.h"

static void parse(struct regions_csv *r, const char *text)
{
	regions_csv_init(r);
	assert_int_equal(regions_csv_parse(r, text, strlen(text), "f.csv"), 0);
}

static void test_good_file_crlf_and_quotes(void **state)
{
	struct regions_csv r;

	(void)state;
	parse(&r, "\xef\xbb\xbfkode,nama,level,jenis,parent_kode\r\n"
		  "12,Sumatera Utara,1,provinsi,\r\n"
		  "12.07,Kabupaten Deli Serdang,2,kabupaten,12\r\n"
		  "12.71,Kota Medan,2,kota,12\r\n"
		  "12.07.28,Lubuk Pakam,3,kecamatan,12.07\r\n"
		  "12.07.28.1007,\"Lubuk Pakam I,II\",4,kelurahan,12.07.28\r\n"
		  "12.07.28.2001,\"Say \"\"Hi\"\" \\ Regapu\xe2\x80\x99u\",4,desa,12.07.28\r\n"
		  "\r\n");
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.rows, 6);
	assert_string_equal(r.copy.data,
			    "2\t12\tSumatera Utara\t1\tprovinsi\t\\N\n"
			    "3\t12.07\tKabupaten Deli Serdang\t2\tkabupaten\t12\n"
			    "4\t12.71\tKota Medan\t2\tkota\t12\n"
			    "5\t12.07.28\tLubuk Pakam\t3\tkecamatan\t12.07\n"
			    "6\t12.07.28.1007\tLubuk Pakam I,II\t4\tkelurahan\t12.07.28\n"
			    "7\t12.07.28.2001\tSay \"Hi\" \\\\ Regapu\xe2\x80\x99u\t4\tdesa\t12.07.28\n");
	regions_csv_release(&r);
}

static void test_minimal_columns_derive_kind(void **state)
{
	struct regions_csv r;

	(void)state;
	parse(&r, "nama,kode\nKota Medan,12.71\nDeli,12.07\nX,12.07.28.1001\nY,12.07.28.2001");
	assert_int_equal(r.bad, 0);
	assert_string_equal(r.copy.data, "2\t12.71\tKota Medan\t2\tkota\t12\n"
					 "3\t12.07\tDeli\t2\tkabupaten\t12\n"
					 "4\t12.07.28.1001\tX\t4\tkelurahan\t12.07.28\n"
					 "5\t12.07.28.2001\tY\t4\tdesa\t12.07.28\n");
	regions_csv_release(&r);
}

static void test_bad_lines_numbered(void **state)
{
	struct regions_csv r;

	(void)state;
	parse(&r, "kode,nama,level,jenis,parent_kode\n"
		  "98,Good,1,provinsi,\n"             /* 2 ok */
		  "98.1,Bad code,2,kabupaten,98\n"    /* 3 */
		  "98.01,Level,3,kabupaten,98\n"      /* 4 */
		  "98.02,Jenis,2,desa,98\n"           /* 5 */
		  "98.03,Parent,2,kabupaten,97\n"     /* 6 */
		  "98.04,,2,kabupaten,98\n"           /* 7 */
		  "98.05,Few fields\n"                /* 8 */
		  "98.06,\"open,2,kabupaten,98\n"     /* 9 */
		  "98.07,bad\xff utf8,2,kabupaten,98\n" /* 10 */
		  "98.08,x\"y,2,kabupaten,98\n"       /* 11 */
		  "98.09,Good too,2,kabupaten,98\n"); /* 12 ok */
	assert_int_equal(r.bad, 9);
	assert_int_equal(r.rows, 2);
	for (int line = 3; line <= 11; line++) {
		char needle[32];
		snprintf(needle, sizeof needle, "f.csv:%d: ", line);
		assert_non_null(strstr(r.errors.data, needle));
	}
	assert_null(strstr(r.errors.data, "f.csv:2:"));
	assert_null(strstr(r.errors.data, "f.csv:12:"));
	regions_csv_release(&r);
}

static void test_bad_header(void **state)
{
	struct regions_csv r;

	(void)state;
	parse(&r, "code,name\n11,Aceh\n");
	assert_int_equal(r.bad, 1);
	assert_int_equal(r.rows, 0);
	assert_non_null(strstr(r.errors.data, "f.csv:1:"));
	regions_csv_release(&r);
	parse(&r, "kode\n11\n");
	assert_int_equal(r.bad, 1);
	regions_csv_release(&r);
}

static void test_error_list_capped(void **state)
{
	struct regions_csv r;
	char text[8192] = "kode,nama\n";

	(void)state;
	for (int i = 0; i < 120; i++)
		strcat(text, "x,y\n");
	parse(&r, text);
	assert_int_equal(r.bad, 120);
	assert_non_null(strstr(r.errors.data, "f.csv:51:"));
	assert_null(strstr(r.errors.data, "f.csv:52:"));
	regions_csv_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file_crlf_and_quotes),
		cmocka_unit_test(test_minimal_columns_derive_kind),
		cmocka_unit_test(test_bad_lines_numbered),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_error_list_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
