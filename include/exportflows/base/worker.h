/* worker — the life cycle of one background thread that sleeps until a deadline
 * or until it is woken: start it once, wake it, stop it (idempotent, joins).
 * The lease, the watches, the node status writer, the publisher and its
 * summarizer each run one.
 *
 * Ownership: a 'struct worker' is embedded in its owner and lives as long as
 * it: worker_init() when the owner is made, worker_release() when it is freed
 * (after worker_stop()).  'lock' is also the owner's: it may guard the owner's
 * own state with it, so that a change and the wake that announces it are one
 * step (see worker_wake_locked()).  The other members are private to worker.c.
 *
 * Threading contract:
 *   - worker_start() and worker_stop() are called by the owner's threads, not
 *     at the same time, and never from the worker thread (worker_stop() joins
 *     it).  A worker runs at most once: a second worker_start() is refused,
 *     also after worker_stop().
 *   - worker_stop() sets the stop flag with 'lock' held and wakes the thread,
 *     so a thread that checks worker_stopping() with 'lock' held before it
 *     waits never misses the stop; it then calls the owner's 'interrupt' (to
 *     cut a blocking call short, e.g. kube_client_interrupt()) and joins.
 *   - worker_wake() and worker_stopping() may be called from any thread;
 *     worker_wake_locked() from any thread holding 'lock'.
 *   - worker_wait_until() (with 'lock' held) and worker_sleep() (without) are
 *     for the worker thread.
 * Deadlines are milliseconds of clock_monotonic_ms() (see monowait.h). */
#ifndef EXPORTFLOWS_WORKER_H
#define EXPORTFLOWS_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "exportflows/base/errmsg.h"

/* The thread's body (gets the owner's 'arg') and the optional interrupt (gets
 * its own 'interrupt_arg', e.g. kube_client_interrupt() and the client). */
typedef void worker_fn(void *arg);

struct worker {
    pthread_mutex_t lock;       /* the owner's lock too (see above) */

    /* Private. */
    pthread_cond_t wake;        /* monowait: deadlines on the monotonic clock */
    atomic_bool stopping;
    bool started, joined;
    pthread_t thread;
    worker_fn *run, *interrupt;
    void *arg, *interrupt_arg;
};

/* Makes the lock and the condition variable.  0 or -errno; on failure nothing
 * is left to release. */
int worker_init(struct worker *w);

/* Releases what worker_init() made; after worker_stop() or when never
 * started. */
void worker_release(struct worker *w);

/* Runs 'run(arg)' in a new thread; worker_stop() will call
 * 'interrupt(interrupt_arg)' ('interrupt' may be NULL) after setting the stop
 * flag.  -EALREADY ("already started") when started before, or -errno from
 * pthread_create() ("cannot start a thread: ...", and then it may be started
 * again); the owner puts its name in front with errmsg_prefix(). */
int worker_start(struct worker *w, worker_fn *run, void *arg, worker_fn *interrupt,
                 void *interrupt_arg, struct errmsg *err);

/* Tells the thread to stop, wakes it, interrupts it and joins it.  True when
 * it joined the thread now; false when there was none (never started, or
 * already stopped). */
bool worker_stop(struct worker *w);

/* True once worker_stop() was called. */
bool worker_stopping(const struct worker *w);

/* Wakes the thread from worker_wait_until() or worker_sleep(); takes 'lock'.
 * worker_wake_locked() is the same with 'lock' held. */
void worker_wake(struct worker *w);
void worker_wake_locked(struct worker *w);

/* With 'lock' held: waits until woken or until the monotonic clock reaches
 * 'at_ms' (UINT64_MAX: no deadline); returns at once when stopping.  0 when
 * woken (perhaps spuriously: the caller looks at its state again), -ETIMEDOUT
 * once the deadline has passed, -ECANCELED when stopping. */
int worker_wait_until(struct worker *w, uint64_t at_ms);

/* Without 'lock': sleeps 'ms' milliseconds unless the worker is or becomes
 * stopping; wakes do not cut it short. */
void worker_sleep(struct worker *w, unsigned ms);

#endif
