/* jsonbudget — a cap on the memory jansson may take: per thread while a piece
 * of work runs, and for all such threads together.
 *
 * A request body within its size cap can still describe a tree a hundred
 * times its size (a million empty objects fit in 3 MiB); this module is what
 * stops one request, or a few at once, from taking the process past its
 * memory limit, however the code that parses it is written.
 *
 *   jsonbudget_install(total)     once, at program start: jansson allocates
 *                                 through this module from then on
 *   jsonbudget_begin(limit)       this thread's jansson allocations count from
 *   ... parse, build, dump ...    now; one past 'limit' bytes, or past 'total'
 *   jsonbudget_end(&usage)        for all counting threads, fails (NULL, so
 *                                 jansson reports out of memory) and so do all
 *                                 that follow until the end
 *
 * Threads that never call jsonbudget_begin() allocate as before, uncounted.
 * A block costs what malloc_usable_size() says plus one word of glibc's chunk
 * header, so the figures follow resident memory, not requested sizes.  No
 * header is added to blocks: jansson values made while counting may be freed
 * by anyone, and allocation functions may be swapped (tests do) at any time. */
#ifndef EXPORTFLOWS_JSONBUDGET_H
#define EXPORTFLOWS_JSONBUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* Which cap refused an allocation. */
enum jsonbudget_refusal {
    JSONBUDGET_OK = 0,
    JSONBUDGET_OVER_LIMIT,      /* this thread's 'limit' */
    JSONBUDGET_OVER_TOTAL,      /* all counting threads together */
};

/* What one piece of work took. */
struct jsonbudget_usage {
    size_t peak;                        /* most bytes held at once */
    enum jsonbudget_refusal refusal;
};

/* Makes jansson allocate through this module (json_set_alloc_funcs()), with
 * 'total' bytes for all counting threads together (0: no such cap).  Call
 * before the threads that count start. */
void jsonbudget_install(size_t total);

/* Whether jansson allocates through this module now. */
bool jsonbudget_installed(void);

/* Starts counting this thread's jansson allocations against 'limit' bytes
 * (0: only the total).  Without jsonbudget_install() nothing is refused, but
 * the peak is still zero: nothing goes through the module. */
void jsonbudget_begin(size_t limit);

/* Stops counting; writes what the work took into '*usage' (may be NULL).
 * Blocks still held count as freed. */
void jsonbudget_end(struct jsonbudget_usage *usage);

/* The refusal so far in this thread's counting, JSONBUDGET_OK for none. */
enum jsonbudget_refusal jsonbudget_refused(void);

#endif
