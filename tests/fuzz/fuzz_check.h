/*
 * tests/fuzz/fuzz_check.h - the one assertion the libFuzzer harnesses use:
 * a broken invariant prints what broke and aborts, which libFuzzer reports
 * as a crash (and saves the input). Header-only: each harness is built
 * from its sources by simpul_fuzz_harness (cmake/SimpulFuzz.cmake).
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond, what)                                                              \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz invariant broken: %s (%s) at %s:%d\n", what,  \
				#cond, __FILE__, __LINE__);                                 \
			abort();                                                            \
		}                                                                           \
	} while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#endif
