/* testproc — run a real program from a test and follow its log.
 *
 * The program runs with the test's environment plus extra "NAME=value" entries,
 * its stderr and stdout going to a file the test reads back, for instance to learn
 * the port from the "listening" line a server logs when started on port 0:
 *   2026-11-29T20:00:00.123Z info listening address=127.0.0.1:43817 server=https
 * A 'struct testproc' is caller-owned; testproc_release() kills what is still
 * running (SIGKILL) and reaps it, so a failed assertion never leaks a process. */
#ifndef EXPORTFLOWS_TESTS_TESTPROC_H
#define EXPORTFLOWS_TESTS_TESTPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct testproc {
    pid_t pid;                  /* 0 when not started or reaped */
    char *log_path;             /* owned: where stdout and stderr go */
    bool exited;
    int status;                 /* waitpid() status once 'exited' */
};

/* Starts argv[0] (a path) with 'argv' (NULL-terminated) and the extra environment
 * 'env' (NULL-terminated "NAME=value" entries, or NULL), output to 'log_path'
 * (copied).  0 or -errno. */
int testproc_start(struct testproc *p, const char *const *argv, const char *const *env,
                   const char *log_path);

/* Polls the log until a line contains every string of 'needles' (NULL-terminated)
 * and has "key=value"; copies the value (unquoted) into 'value'.  0, -ETIMEDOUT,
 * or -ECHILD when the program exited first. */
int testproc_wait_log(struct testproc *p, const char *const *needles, const char *key,
                      char *value, size_t size, unsigned timeout_ms);

/* The port of the "listening" line that also contains 'match' (e.g.
 * "server=https"), or -ETIMEDOUT / -ECHILD / -EINVAL. */
int testproc_listen_port(struct testproc *p, const char *match, unsigned timeout_ms);

/* Counts the log lines containing every string of 'needles'. */
size_t testproc_count_log(const struct testproc *p, const char *const *needles);

int testproc_signal(struct testproc *p, int sig);

/* A memory figure of the running program from /proc/<pid>/status, in KiB:
 * 'field' is "VmRSS" (resident now) or "VmHWM" (resident at the peak).  0 or
 * -errno. */
int testproc_memory_kb(const struct testproc *p, const char *field, unsigned long *ret_kb);

/* Starts VmHWM again from the resident size now (clear_refs "5").  0 or -errno. */
int testproc_reset_peak(const struct testproc *p);

/* Reaps the program if it has exited; true once it has. */
bool testproc_poll(struct testproc *p);

/* Waits for the program to exit; 0 and its exit code in '*code' (128 + signal
 * when killed), or -ETIMEDOUT. */
int testproc_wait(struct testproc *p, unsigned timeout_ms, int *code);

/* Kills the program if it still runs, reaps it, frees 'log_path'.  Accepts a
 * never-started (zeroed) struct. */
void testproc_release(struct testproc *p);

#endif
