/* testutil — small helpers for tests: deadlines, temporary directories, files,
 * the case directories of data-driven tests, where the built programs are.
 *
 * Tests never sleep to synchronise: they poll a condition until a deadline,
 * napping a few milliseconds between checks (testutil_nap()). */
#ifndef EXPORTFLOWS_TESTS_TESTUTIL_H
#define EXPORTFLOWS_TESTS_TESTUTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* A point in CLOCK_MONOTONIC time. */
struct testutil_deadline {
    struct timespec at;
};

struct testutil_deadline testutil_deadline_ms(unsigned ms);
bool testutil_deadline_passed(const struct testutil_deadline *d);
/* Milliseconds left, 0 when passed. */
unsigned testutil_deadline_left_ms(const struct testutil_deadline *d);
/* Sleeps 'ms' milliseconds: only between polls of a condition. */
void testutil_nap(unsigned ms);
/* Polls until '*counter' (bumped by another thread) reaches 'want'; false
 * when 'ms' milliseconds pass first. */
bool testutil_wait_count(atomic_uint *counter, unsigned want, unsigned ms);

/* Creates a fresh directory "$TMPDIR/exportflows-<tag>.XXXXXX".  Caller removes it
 * with testutil_rmtree() and frees the name with free(); NULL on failure. */
char *testutil_tempdir(const char *tag);
/* Removes 'path' and everything under it; accepts NULL. */
void testutil_rmtree(const char *path);

/* Reads a whole file.  Caller frees the result (NUL-terminated; '*len' without
 * the NUL when 'len' is not NULL); NULL on failure. */
char *testutil_read_file(const char *path, size_t *len);
/* Writes 'len' bytes to 'path' (created or truncated, mode 0644).  0 or -errno. */
int testutil_write_file(const char *path, const char *data, size_t len);
/* The same with the string 'text', without its NUL. */
int testutil_write_text(const char *path, const char *text);

/* The names in directory 'dir' that do not start with '.' (data-driven test
 * cases), sorted with strcmp(), in a NULL-terminated malloc()ed array that the
 * caller frees with testutil_free_names(); '*n' is how many.  NULL when the
 * directory cannot be read; aborts on ENOMEM. */
char **testutil_list_dir(const char *dir, size_t *n);
/* Frees a NULL-terminated array of malloc()ed strings; accepts NULL. */
void testutil_free_names(char **names);
/* Calls 'run' with "<dir>/<name>" for each name testutil_list_dir() lists, all of
 * them even after a failure so that one run reports every failing case.  Returns
 * how many failed (run returned false); '*n' is how many ran, 0 when 'dir'
 * cannot be read. */
size_t testutil_run_cases(const char *dir, bool (*run)(const char *path), size_t *n);

/* Text built a line at a time, for the outcome of a data-driven case:
 * start from { NULL, 0, 0 }, free 'text' with free(); aborts on ENOMEM. */
struct testutil_lines {
    char *text;
    size_t len;
    size_t cap;
};

/* Appends one formatted line and its newline. */
void testutil_lines_add(struct testutil_lines *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Compares 'actual' with the file 'path' (a data case's expected outcome):
 * true when they are equal; with EXPORTFLOWS_UPDATE_EXPECTED=1 the file is
 * rewritten instead (review the diff) and true returned; else both are
 * printed, labelled 'what', and false returned. */
bool testutil_expect_file(const char *path, const char *actual, const char *what);

/* "<dir>/<name>" in a malloc()ed string the caller frees; aborts on ENOMEM. */
char *testutil_path(const char *dir, const char *name);

/* Where a program built from cmd/<name> is: $EXPORTFLOWS_BIN_DIR/<name>, or
 * bin/<name> when the variable is unset.  Caller frees. */
char *testutil_bin(const char *name);

#endif
