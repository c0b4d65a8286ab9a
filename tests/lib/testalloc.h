/* testalloc — a jansson allocator for allocation-failure loops: it counts every
 * allocation asked for and refuses those past a budget.
 *
 *   testalloc_hook(budget);         // allocations 0 .. budget-1 succeed
 *   ... code under test ...
 *   testalloc_unhook();             // back to malloc/free
 *   testalloc_count()               // how many were asked for, refused ones too
 *
 * Process-wide (jansson's allocator is), so tests hook and unhook around the call
 * they exercise and never from two threads. */
#ifndef EXPORTFLOWS_TESTALLOC_H
#define EXPORTFLOWS_TESTALLOC_H

#include <stddef.h>
#include <stdint.h>

#define TESTALLOC_UNLIMITED SIZE_MAX

/* Starts counting from 0 and refuses allocations once 'budget' have been made. */
void testalloc_hook(size_t budget);
/* Restores malloc/free; the count stays readable. */
void testalloc_unhook(void);
size_t testalloc_count(void);

#endif
