/* testjsondiff — jsonscan's two readers checked against jansson on one text.
 *
 * The rule (jsonscan.h): jsonscan never accepts what json_loadb() with
 * TESTJSONDIFF_FLAGS refuses, says -EINVAL only for texts jansson refuses,
 * and every value it reports (found by path, walked with jsonscan_iter_*(),
 * decoded with jsonscan_string(), built with jsonscan_load()) is what jansson
 * builds.  The unit test (tests/unit/admission/test_jsonscan.c) and the fuzzer
 * (tests/fuzz/fuzz_jsonscan_diff.c) share this one check. */
#ifndef EXPORTFLOWS_TESTS_TESTJSONDIFF_H
#define EXPORTFLOWS_TESTS_TESTJSONDIFF_H

#include <stddef.h>

#include <jansson.h>

#include "exportflows/base/errmsg.h"

/* The jansson flags jsonscan is held to: "\u0000" allowed in values, as the
 * webhook's own jansson parses allow it. */
#define TESTJSONDIFF_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* What the readers did, so a test can tell they were exercised. */
struct testjsondiff_counts {
    size_t checked;             /* texts checked */
    size_t scanned;             /* ... that jsonscan_fields() read (returned 0) */
    size_t loaded;              /* ... that jsonscan_load() built */
};

/* Checks 'text' ('len' bytes, borrowed) with jsonscan_fields() over 'paths'
 * (at most JSONSCAN_MAX_PATHS; paths[0] must be the empty path { NULL }: the
 * whole document is walked from it) and with jsonscan_load(), against jansson.
 * Returns 0 when they agree, -1 with what differs in 'why' (may be NULL).
 * Adds to 'counts' (may be NULL).  Aborts on ENOMEM. */
int testjsondiff_check(const char *text, size_t len, const char *const *const *paths,
                       size_t n_paths, struct testjsondiff_counts *counts,
                       struct errmsg *why);

#endif
