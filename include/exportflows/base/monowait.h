/* monowait — a lock and a condition variable whose timed waits run on
 * CLOCK_MONOTONIC, for worker threads that sleep until a deadline or until they
 * are woken: a step of the wall clock must neither cut a wait short nor stretch
 * it.  Deadlines are milliseconds of clock_monotonic_ms() (see clock.h). */
#ifndef EXPORTFLOWS_MONOWAIT_H
#define EXPORTFLOWS_MONOWAIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Initialises '*lock' and '*cond'.  0 or -errno; on failure neither is left
 * initialised.  Release both with monowait_release(). */
int monowait_init(pthread_mutex_t *lock, pthread_cond_t *cond);
void monowait_release(pthread_mutex_t *lock, pthread_cond_t *cond);

/* With 'lock' held: waits on 'cond' until it is signalled or the monotonic clock
 * reaches 'at_ms'; UINT64_MAX is no deadline.  0 when woken (perhaps
 * spuriously), -ETIMEDOUT once the deadline has passed. */
int monowait_until(pthread_mutex_t *lock, pthread_cond_t *cond, uint64_t at_ms);

/* Takes 'lock' and sleeps 'ms' milliseconds unless '*stop' is or becomes true;
 * whoever sets '*stop' then broadcasts 'cond' with 'lock' held. */
void monowait_sleep(pthread_mutex_t *lock, pthread_cond_t *cond, const atomic_bool *stop,
                    unsigned ms);

#endif
