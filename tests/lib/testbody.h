/* testbody — AdmissionReview bodies built to cost the webhook as much memory as
 * a body within the size cap can: millions of small values where the review
 * reads none of them.
 *
 * Each is a valid Network CREATE (uid "u", name "cluster") whose spec holds one
 * extra member, opened by 'open' (e.g. "\"filler\":["), filled with 'unit' (e.g.
 * "{}") repeated with commas between, then 'tail' (e.g. "1e1", or text the
 * scanner gives up on), closed by 'close' (e.g. "]"), and the body's own
 * closing brackets: about 'size' bytes in all, never more. */
#ifndef EXPORTFLOWS_TESTS_TESTBODY_H
#define EXPORTFLOWS_TESTS_TESTBODY_H

#include <stddef.h>

/* The body, malloc()ed and NUL-terminated, its length in '*ret_len'; aborts
 * on ENOMEM. */
char *testbody_filled(const char *open, const char *unit, const char *tail,
                      const char *close, size_t size, size_t *ret_len);

/* A run of 'depth' '[' then as many ']': nesting jansson reads (up to 2048)
 * but jsonscan gives up on past JSONSCAN_MAX_DEPTH.  Caller frees. */
char *testbody_nested(unsigned depth);

#endif
