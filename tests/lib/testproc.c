/* testproc — see testproc.h. */
#include "testproc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exportflows/base/numparse.h"
#include "testutil.h"

extern char **environ;

/* Enough for any environment a test runs with plus its extras. */
#define ENV_MAX 1024

static size_t
count(const char *const *v)
{
    size_t n = 0;

    while (v && v[n]) {
        n++;
    }
    return n;
}

/* environ plus 'extra' in one NULL-terminated array the caller frees. */
static char **
merged_env(const char *const *extra)
{
    size_t n_base = count((const char *const *) environ), n_extra = count(extra);
    char **env;

    if (n_base + n_extra >= ENV_MAX) {
        return NULL;
    }
    env = calloc(n_base + n_extra + 1, sizeof *env);
    if (env) {
        memcpy(env, environ, n_base * sizeof *env);
        for (size_t i = 0; i < n_extra; i++) {
            env[n_base + i] = (char *) extra[i];
        }
    }
    return env;
}

int
testproc_start(struct testproc *p, const char *const *argv, const char *const *env,
               const char *log_path)
{
    posix_spawn_file_actions_t actions;
    char **envp = merged_env(env);
    int error;

    memset(p, 0, sizeof *p);
    p->log_path = strdup(log_path);
    if (!envp || !p->log_path) {
        free(envp);
        return -ENOMEM;
    }
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_path,
                                     O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 2, 1);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    error = posix_spawn(&p->pid, argv[0], &actions, NULL, (char *const *) argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    free(envp);
    if (error) {
        p->pid = 0;
        return -error;
    }
    return 0;
}

/* Copies the value of "key=" found in 'line' (ending at 'end') into 'value'. */
static bool
line_value(const char *line, const char *end, const char *key, char *value, size_t size)
{
    size_t klen = strlen(key);

    for (const char *s = line; s + klen + 1 < end; s++) {
        if ((s == line || s[-1] == ' ') && !strncmp(s, key, klen) && s[klen] == '=') {
            const char *v = s + klen + 1;
            bool quoted = *v == '"';
            size_t n = 0;

            v += quoted;
            while (v + n < end && v[n] != (quoted ? '"' : ' ') && n + 1 < size) {
                n++;
            }
            memcpy(value, v, n);
            value[n] = '\0';
            return true;
        }
    }
    return false;
}

static bool
line_has(const char *line, const char *end, const char *const *needles)
{
    for (; needles && *needles; needles++) {
        const char *hit = memmem(line, (size_t) (end - line), *needles, strlen(*needles));

        if (!hit) {
            return false;
        }
    }
    return true;
}

/* Looks through the log once; true when a matching line was found. */
static bool
scan_log(const struct testproc *p, const char *const *needles, const char *key,
         char *value, size_t size, size_t *n_matches)
{
    char *text = testutil_read_file(p->log_path, NULL);
    bool found = false;

    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');

        if (!end) {
            break;              /* a line still being written */
        }
        if (line_has(line, end, needles)
            && (!key || line_value(line, end, key, value, size))) {
            found = true;
            if (n_matches) {
                ++*n_matches;
            } else {
                break;
            }
        }
        line = end + 1;
    }
    free(text);
    return found;
}

int
testproc_wait_log(struct testproc *p, const char *const *needles, const char *key,
                  char *value, size_t size, unsigned timeout_ms)
{
    struct testutil_deadline d = testutil_deadline_ms(timeout_ms);

    for (;;) {
        bool gone = testproc_poll(p);

        if (scan_log(p, needles, key, value, size, NULL)) {
            return 0;
        }
        if (gone) {
            return -ECHILD;
        }
        if (testutil_deadline_passed(&d)) {
            return -ETIMEDOUT;
        }
        testutil_nap(10);
    }
}

int
testproc_listen_port(struct testproc *p, const char *match, unsigned timeout_ms)
{
    const char *needles[] = { " listening ", match, NULL };
    char address[128];
    const char *colon;
    uint64_t port;
    int error;

    error = testproc_wait_log(p, needles, "address", address, sizeof address, timeout_ms);
    if (error) {
        return error;
    }
    colon = strrchr(address, ':');
    if (!colon) {
        return -EINVAL;
    }
    error = numparse_u64(colon + 1, 1, 65535, &port);
    return error ? error : (int) port;
}

size_t
testproc_count_log(const struct testproc *p, const char *const *needles)
{
    size_t n = 0;

    scan_log(p, needles, NULL, NULL, 0, &n);
    return n;
}

int
testproc_signal(struct testproc *p, int sig)
{
    if (!p->pid || p->exited) {
        return -ESRCH;
    }
    return kill(p->pid, sig) ? -errno : 0;
}

int
testproc_memory_kb(const struct testproc *p, const char *field, unsigned long *ret_kb)
{
    char path[64], line[256];
    size_t field_len = strlen(field);
    int error = -ENOENT;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int) p->pid);
    f = fopen(path, "re");
    if (!f) {
        return -errno;
    }
    while (error == -ENOENT && fgets(line, sizeof line, f)) {
        char digits[32];
        uint64_t kb;

        if (strncmp(line, field, field_len) || line[field_len] != ':'
            || sscanf(line + field_len + 1, " %31[0-9]", digits) != 1) {
            continue;
        }
        error = numparse_u64(digits, 0, UINT64_MAX, &kb);
        if (!error) {
            *ret_kb = (unsigned long) kb;
        }
    }
    fclose(f);
    return error;
}

int
testproc_reset_peak(const struct testproc *p)
{
    char path[64];
    int fd, error = 0;

    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int) p->pid);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (write(fd, "5", 1) != 1) {
        error = -errno;
    }
    close(fd);
    return error;
}

bool
testproc_poll(struct testproc *p)
{
    if (p->pid && !p->exited && waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
        p->exited = true;
    }
    return p->exited;
}

int
testproc_wait(struct testproc *p, unsigned timeout_ms, int *code)
{
    struct testutil_deadline d = testutil_deadline_ms(timeout_ms);

    while (!testproc_poll(p)) {
        if (testutil_deadline_passed(&d)) {
            return -ETIMEDOUT;
        }
        testutil_nap(5);
    }
    *code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
    return 0;
}

/* Prints the end of the log of a program that ended on its own, unseen by the
 * test (a crash, a sanitizer report): the clue a failed test needs most, which
 * would otherwise go with the test's temporary directory. */
static void
print_unseen_end(const struct testproc *p)
{
    size_t len = 0;
    char *text = p->log_path ? testutil_read_file(p->log_path, &len) : NULL;
    size_t from = len > 4096 ? len - 4096 : 0;

    fprintf(stderr, "testproc: pid %d ended by itself (%s %d); the end of its log:\n%s\n",
            (int) p->pid, WIFEXITED(p->status) ? "exit" : "signal",
            WIFEXITED(p->status) ? WEXITSTATUS(p->status) : WTERMSIG(p->status),
            text ? text + from : "(none)");
    free(text);
}

void
testproc_release(struct testproc *p)
{
    bool unseen = p->pid && !p->exited;

    if (unseen && testproc_poll(p)
        && !(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0)) {
        print_unseen_end(p);
    }
    if (p->pid && !testproc_poll(p)) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR) {
            continue;
        }
        p->exited = true;
    }
    free(p->log_path);
    p->log_path = NULL;
}
