/* testalloc — see testalloc.h. */
#include "testalloc.h"

#include <jansson.h>
#include <stdlib.h>

static size_t count;
static size_t budget = TESTALLOC_UNLIMITED;

static void *
budget_malloc(size_t size)
{
    return count++ < budget ? malloc(size) : NULL;
}

void
testalloc_hook(size_t new_budget)
{
    count = 0;
    budget = new_budget;
    json_set_alloc_funcs(budget_malloc, free);
}

void
testalloc_unhook(void)
{
    json_set_alloc_funcs(malloc, free);
    budget = TESTALLOC_UNLIMITED;
}

size_t
testalloc_count(void)
{
    return count;
}
