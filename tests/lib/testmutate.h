/* testmutate — single-byte alterations of a document, for tests that compare a
 * parser against a reference on every near-miss of valid input.
 *
 * Deleting a byte, replacing it, or inserting one before it reaches every
 * state of a hand-written scanner from a small seed document; the tests check
 * each altered text against jansson. */
#ifndef EXPORTFLOWS_TESTS_TESTMUTATE_H
#define EXPORTFLOWS_TESTS_TESTMUTATE_H

#include <stddef.h>

/* Calls 'check' on the first 'n' bytes of 'doc' altered once in each of these
 * ways, position by position: the byte deleted; then for each of the 'n_bytes'
 * bytes of 'bytes', the byte replaced by it and it inserted before the byte.
 * Not on 'doc' itself.  The text handed to 'check' is not NUL-terminated and
 * lives only for the call.  Aborts on ENOMEM. */
void testmutate_each(const char *doc, size_t n, const char *bytes, size_t n_bytes,
                     void (*check)(const char *text, size_t len));

#endif
