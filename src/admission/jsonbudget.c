/* jsonbudget — see include/exportflows/admission/jsonbudget.h.
 *
 * Each thread keeps its own account (thread-local: no lock on the allocation
 * path); the total is one atomic counter that moves by exactly what the
 * accounts move by, so it is always the sum of the open accounts. */
#include "exportflows/admission/jsonbudget.h"

#include <jansson.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct account {
    bool active;
    size_t used, peak, limit;
    enum jsonbudget_refusal refusal;
};

static _Thread_local struct account account;
static atomic_size_t total_used;
static size_t total_limit;              /* set before the counting threads start */

/* What the block 'p' takes from the heap. */
static size_t
block_cost(void *p)
{
    return malloc_usable_size(p) + sizeof(size_t);
}

/* Takes 'cost' bytes into this thread's account and the total, or records
 * why not. */
static bool
charge(struct account *a, size_t cost)
{
    if (a->limit && cost > a->limit - a->used) {
        a->refusal = JSONBUDGET_OVER_LIMIT;
        return false;
    }
    if (total_limit && atomic_fetch_add(&total_used, cost) + cost > total_limit) {
        atomic_fetch_sub(&total_used, cost);
        a->refusal = JSONBUDGET_OVER_TOTAL;
        return false;
    }
    if (!total_limit) {
        atomic_fetch_add(&total_used, cost);
    }
    a->used += cost;
    if (a->used > a->peak) {
        a->peak = a->used;
    }
    return true;
}

/* Gives back up to 'cost' bytes: never more than the account holds, so a
 * block allocated before counting began changes nothing. */
static void
credit(struct account *a, size_t cost)
{
    if (cost > a->used) {
        cost = a->used;
    }
    a->used -= cost;
    atomic_fetch_sub(&total_used, cost);
}

static void *
budget_malloc(size_t size)
{
    struct account *a = &account;
    void *p;

    if (!a->active) {
        return malloc(size);
    }
    if (a->refusal != JSONBUDGET_OK) {
        return NULL;
    }
    p = malloc(size);
    if (p && !charge(a, block_cost(p))) {
        free(p);
        return NULL;
    }
    return p;
}

static void
budget_free(void *p)
{
    struct account *a = &account;

    if (p && a->active) {
        credit(a, block_cost(p));
    }
    free(p);
}

void
jsonbudget_install(size_t total)
{
    total_limit = total;
    json_set_alloc_funcs(budget_malloc, budget_free);
}

bool
jsonbudget_installed(void)
{
    json_malloc_t m = NULL;
    json_free_t f = NULL;

    json_get_alloc_funcs(&m, &f);
    return m == budget_malloc;
}

void
jsonbudget_begin(size_t limit)
{
    account = (struct account) { true, 0, 0, limit, JSONBUDGET_OK };
}

void
jsonbudget_end(struct jsonbudget_usage *usage)
{
    struct account *a = &account;

    credit(a, a->used);
    if (usage) {
        usage->peak = a->peak;
        usage->refusal = a->refusal;
    }
    *a = (struct account) { false, 0, 0, 0, JSONBUDGET_OK };
}

enum jsonbudget_refusal
jsonbudget_refused(void)
{
    return account.refusal;
}
