/* Unit tests for readfile: whole files within the cap, one byte past it, kinds
 * of file refused at once (never waiting on a FIFO), the messages, pipes
 * through readfile_fd(), and reading with READFILE_WIPE. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/base/readfile.h"
#include "../../lib/testutil.h"

struct dir {
    char *path;
    char file[512];
};

static int
setup(void **state)
{
    struct dir *d = calloc(1, sizeof *d);

    d->path = testutil_tempdir("readfile");
    assert_non_null(d->path);
    *state = d;
    return 0;
}

static int
teardown(void **state)
{
    struct dir *d = *state;

    testutil_rmtree(d->path);
    free(d->path);
    free(d);
    return 0;
}

static const char *
in_dir(struct dir *d, const char *name)
{
    snprintf(d->file, sizeof d->file, "%s/%s", d->path, name);
    return d->file;
}

static void
test_readfile_reads_whole_file_up_to_the_cap(void **state)
{
    struct dir *d = *state;
    struct errmsg err;
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(testutil_write_text(in_dir(d, "ten"), "0123456789"), 0);
    assert_int_equal(readfile(d->file, NULL, 10, 0, &text, &len, &err), 0);
    assert_string_equal(text, "0123456789");
    assert_int_equal(len, 10);
    readfile_free(text, len, 0);

    assert_int_equal(testutil_write_text(in_dir(d, "empty"), ""), 0);
    assert_int_equal(readfile(d->file, NULL, 10, 0, &text, &len, &err), 0);
    assert_string_equal(text, "");
    assert_int_equal(len, 0);
    readfile_free(text, len, 0);
}

static void
test_readfile_refuses_one_byte_past_the_cap(void **state)
{
    struct dir *d = *state;
    struct errmsg err;
    char *text = NULL, want[600];
    size_t len = 0;

    assert_int_equal(testutil_write_text(in_dir(d, "eleven"), "0123456789a"), 0);
    assert_int_equal(readfile(d->file, "token file", 10, 0, &text, &len, &err), -EFBIG);
    assert_null(text);
    snprintf(want, sizeof want, "token file '%s' is larger than 10 bytes", d->file);
    assert_string_equal(err.text, want);
}

static void
test_readfile_refuses_other_kinds_at_once(void **state)
{
    struct dir *d = *state;
    struct errmsg err;
    char *text = NULL, want[600];
    size_t len = 0;

    /* A FIFO with no writer: a plain open() would wait forever. */
    assert_int_equal(mkfifo(in_dir(d, "fifo"), 0600), 0);
    assert_int_equal(readfile(d->file, NULL, 100, 0, &text, &len, &err), -EINVAL);
    snprintf(want, sizeof want, "'%s' is a FIFO, not a regular file", d->file);
    assert_string_equal(err.text, want);

    assert_int_equal(readfile(d->path, "kubeconfig", 100, 0, &text, &len, &err), -EINVAL);
    snprintf(want, sizeof want, "kubeconfig '%s' is a directory, not a regular file",
             d->path);
    assert_string_equal(err.text, want);

    assert_int_equal(readfile(in_dir(d, "missing"), "token file", 100, 0, &text, &len,
                              &err), -ENOENT);
    snprintf(want, sizeof want, "cannot read token file '%s': %s", d->file,
             strerror(ENOENT));
    assert_string_equal(err.text, want);
    assert_null(text);
}

static void
test_readfile_fd_reads_a_pipe(void **state)
{
    int fds[2];
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "from a pipe", 11), 11);
    close(fds[1]);
    assert_int_equal(readfile_fd(fds[0], 100, 0, &text, &len), 0);
    close(fds[0]);
    assert_string_equal(text, "from a pipe");
    assert_int_equal(len, 11);
    readfile_free(text, len, 0);

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "0123456789", 10), 10);
    close(fds[1]);
    assert_int_equal(readfile_fd(fds[0], 9, 0, &text, &len), -EFBIG);
    close(fds[0]);
}

/* A secret over several reads: growth copies (and wipes) instead of realloc(),
 * and the bytes come out the same. */
static void
test_readfile_wipe_reads_the_same_bytes(void **state)
{
    struct dir *d = *state;
    size_t size = 300 * 1024, len = 0;
    char *data = malloc(size), *text = NULL;

    for (size_t i = 0; i < size; i++) {
        data[i] = (char) ('a' + i % 26);
    }
    assert_int_equal(testutil_write_file(in_dir(d, "key"), data, size), 0);
    assert_int_equal(readfile(d->file, NULL, size, READFILE_WIPE, &text, &len, NULL), 0);
    assert_int_equal(len, size);
    assert_memory_equal(text, data, size);
    readfile_free(text, len, READFILE_WIPE);
    assert_int_equal(readfile(d->file, NULL, size - 1, READFILE_WIPE, &text, &len, NULL),
                     -EFBIG);
    free(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_readfile_reads_whole_file_up_to_the_cap,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_readfile_refuses_one_byte_past_the_cap,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_readfile_refuses_other_kinds_at_once,
                                        setup, teardown),
        cmocka_unit_test(test_readfile_fd_reads_a_pipe),
        cmocka_unit_test_setup_teardown(test_readfile_wipe_reads_the_same_bytes,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
