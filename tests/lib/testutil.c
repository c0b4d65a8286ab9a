/* testutil — see testutil.h. */
#include "testutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exportflows/base/clock.h"

/* Files larger than this are not test data. */
#define READ_FILE_MAX (64u << 20)

struct testutil_deadline
testutil_deadline_ms(unsigned ms)
{
    struct testutil_deadline d = { clock_monotonic_after(ms) };

    return d;
}

unsigned
testutil_deadline_left_ms(const struct testutil_deadline *d)
{
    struct timespec now = clock_monotonic_now();
    long long left;

    left = (long long) (d->at.tv_sec - now.tv_sec) * 1000
           + (d->at.tv_nsec - now.tv_nsec) / 1000000;
    return left > 0 ? (unsigned) left : 0;
}

bool
testutil_deadline_passed(const struct testutil_deadline *d)
{
    return testutil_deadline_left_ms(d) == 0;
}

void
testutil_nap(unsigned ms)
{
    struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };

    while (nanosleep(&t, &t) && errno == EINTR) {
        continue;
    }
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

char **
testutil_list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t count = 0;
    struct dirent *de;

    if (!d) {
        return NULL;
    }
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') {
            continue;
        }
        names = realloc(names, (count + 2) * sizeof *names);
        if (!names || !(names[count++] = strdup(de->d_name))) {
            abort();
        }
    }
    closedir(d);
    if (!names && !(names = malloc(sizeof *names))) {
        abort();
    }
    names[count] = NULL;
    qsort(names, count, sizeof *names, compare_names);
    *n = count;
    return names;
}

void
testutil_free_names(char **names)
{
    for (size_t i = 0; names && names[i]; i++) {
        free(names[i]);
    }
    free(names);
}

size_t
testutil_run_cases(const char *dir, bool (*run)(const char *path), size_t *n)
{
    char **names = testutil_list_dir(dir, n);
    size_t failed = 0;

    if (!names) {
        *n = 0;
        return 0;
    }
    for (size_t i = 0; names[i]; i++) {
        char *path = testutil_path(dir, names[i]);

        failed += !run(path);
        free(path);
    }
    testutil_free_names(names);
    return failed;
}

bool
testutil_wait_count(atomic_uint *counter, unsigned want, unsigned ms)
{
    struct testutil_deadline d = testutil_deadline_ms(ms);

    while (atomic_load(counter) < want) {
        if (testutil_deadline_passed(&d)) {
            return false;
        }
        testutil_nap(10);
    }
    return true;
}

char *
testutil_tempdir(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char buf[4096];

    snprintf(buf, sizeof buf, "%s/exportflows-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    return mkdtemp(buf) ? strdup(buf) : NULL;
}

static int
rmtree_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

void
testutil_rmtree(const char *path)
{
    if (path) {
        nftw(path, rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

char *
testutil_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;
    size_t used = 0, size = 0;

    if (fd < 0) {
        return NULL;
    }
    for (;;) {
        ssize_t n;

        if (size - used < 2) {
            char *bigger = size < READ_FILE_MAX ? realloc(buf, size ? size * 2 : 4096) : NULL;

            if (!bigger) {
                goto fail;
            }
            buf = bigger;
            size = size ? size * 2 : 4096;
        }
        n = read(fd, buf + used, size - used - 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            goto fail;
        }
        if (n == 0) {
            break;
        }
        used += (size_t) n;
    }
    close(fd);
    buf[used] = '\0';
    if (len) {
        *len = used;
    }
    return buf;

fail:
    close(fd);
    free(buf);
    return NULL;
}

int
testutil_write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int error = 0;

    if (fd < 0) {
        return -errno;
    }
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            error = -errno;
            break;
        }
        data += n;
        len -= (size_t) n;
    }
    if (close(fd) && !error) {
        error = -errno;
    }
    return error;
}

int
testutil_write_text(const char *path, const char *text)
{
    return testutil_write_file(path, text, strlen(text));
}

char *
testutil_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);

    if (!path) {
        abort();
    }
    snprintf(path, n, "%s/%s", dir, name);
    return path;
}

char *
testutil_bin(const char *name)
{
    const char *dir = getenv("EXPORTFLOWS_BIN_DIR");

    return testutil_path(dir && *dir ? dir : "bin", name);
}

void
testutil_lines_add(struct testutil_lines *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        abort();
    }
    if (l->len + (size_t) n + 2 > l->cap) {
        l->cap = (l->len + (size_t) n + 2) * 2;
        l->text = realloc(l->text, l->cap);
        if (!l->text) {
            abort();
        }
    }
    va_start(ap, fmt);
    vsnprintf(l->text + l->len, l->cap - l->len, fmt, ap);
    va_end(ap);
    l->len += (size_t) n;
    l->text[l->len++] = '\n';
    l->text[l->len] = '\0';
}

bool
testutil_expect_file(const char *path, const char *actual, const char *what)
{
    char *expected = testutil_read_file(path, NULL);
    const char *update = getenv("EXPORTFLOWS_UPDATE_EXPECTED");
    bool ok = expected && !strcmp(expected, actual);

    if (!ok && update && !strcmp(update, "1")) {
        ok = testutil_write_text(path, actual) == 0;
    } else if (!ok) {
        fprintf(stderr, "case %s\n--- expected\n%s--- actual\n%s", what,
                expected ? expected : "(missing)\n", actual);
    }
    free(expected);
    return ok;
}
