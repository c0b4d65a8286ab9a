/* test_configsource_file — the file config source on a real directory with
 * inotify: a file that does not exist yet, written into place, rewritten with
 * the same text (no news), replaced by invalid or oversized text, deleted
 * (reported once, the last config kept), kubelet's "..data" symlink swap of a
 * ConfigMap volume, and a directory that appears late (found by the recheck).
 * The applier against OVS with this source: tests/system/applier-ovsdb.sh. */
#include <errno.h>
#include <poll.h>
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

#include "exportflows/base/clock.h"
#include "exportflows/ovs/configsource_file.h"
#include "../../lib/testutil.h"

#define GOOD1 "{\"generation\": 1}"
#define GOOD2 "{\"generation\": 2}"
#define GOOD3 "{\"generation\": 3}"
#define BAD "{\"netFlow\": 7}"

/* What the test runs when the source never says anything new. */
#define TIMED_OUT 1000

/* Runs the source as the applier's loop does (wait, poll, run) until run()
 * says something other than CONFIGSOURCE_UNCHANGED; TIMED_OUT after 10 s. */
static int
next(struct configsource *source, struct errmsg *err)
{
    struct testutil_deadline d = testutil_deadline_ms(10000);

    while (!testutil_deadline_passed(&d)) {
        struct pollfd pfd;
        int timeout = -1, rc;
        unsigned left = testutil_deadline_left_ms(&d);

        configsource_wait(source, clock_monotonic_ms(), &pfd, &timeout);
        if (timeout < 0 || (unsigned) timeout > left) {
            timeout = (int) left;
        }
        assert_true(poll(&pfd, 1, timeout) >= 0);
        err->text[0] = '\0';
        rc = configsource_run(source, clock_monotonic_ms(), err);
        if (rc != CONFIGSOURCE_UNCHANGED) {
            return rc;
        }
    }
    return TIMED_OUT;
}

/* Puts 'len' bytes of 'text' at 'dir'/'name' at once: written beside, renamed
 * into place. */
static void
put(const char *dir, const char *name, const char *text, size_t len)
{
    char *tmp = testutil_path(dir, ".tmp"), *path = testutil_path(dir, name);

    assert_int_equal(testutil_write_file(tmp, text, len), 0);
    assert_int_equal(rename(tmp, path), 0);
    free(tmp);
    free(path);
}

static int64_t
generation(const struct configsource *source)
{
    const struct flowconfig *c = configsource_current(source);

    return c ? c->generation : -1;
}

static void
test_configsource_file_follows_the_file(void **unused)
{
    char *dir = testutil_tempdir("configsource-file");
    char *path = testutil_path(dir, "config.json");
    char *big = malloc(FLOWCONFIG_MAX_BYTES + 2);
    struct configsource *source = NULL;
    struct errmsg err, expected;

    (void) unused;
    assert_non_null(big);
    assert_int_equal(configsource_file_create(path, 60000, &source, &err), 0);
    snprintf(expected.text, sizeof expected.text, "config file '%s'", path);
    assert_string_equal(configsource_describe(source), expected.text);

    /* Not there yet: said once. */
    assert_int_equal(next(source, &err), -ENOENT);
    snprintf(expected.text, sizeof expected.text,
             "cannot read config file '%s': No such file or directory", path);
    assert_string_equal(err.text, expected.text);
    assert_null(configsource_current(source));

    put(dir, "config.json", GOOD1, strlen(GOOD1));
    assert_int_equal(next(source, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(source), 1);

    /* The same text again is no news: the next thing said is generation 2. */
    put(dir, "config.json", GOOD1, strlen(GOOD1));
    put(dir, "config.json", GOOD2, strlen(GOOD2));
    assert_int_equal(next(source, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(source), 2);

    /* Invalid: refused once, generation 2 stays. */
    put(dir, "config.json", BAD, strlen(BAD));
    assert_int_equal(next(source, &err), -EINVAL);
    snprintf(expected.text, sizeof expected.text, "refused config file '%s': ", path);
    assert_memory_equal(err.text, expected.text, strlen(expected.text));
    assert_int_equal(generation(source), 2);

    /* Too large: refused. */
    memset(big, ' ', FLOWCONFIG_MAX_BYTES + 1);
    put(dir, "config.json", big, FLOWCONFIG_MAX_BYTES + 1);
    assert_true(next(source, &err) < 0);
    assert_non_null(strstr(err.text, "larger than 65536 bytes: keeping the last config"));
    assert_int_equal(generation(source), 2);

    /* Deleted: said once, generation 2 stays; back with GOOD2: news. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(next(source, &err), -ENOENT);
    assert_non_null(strstr(err.text, "No such file or directory: keeping the last config"));
    assert_int_equal(generation(source), 2);
    put(dir, "config.json", GOOD2, strlen(GOOD2));
    assert_int_equal(next(source, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(source), 2);

    configsource_destroy(source);
    testutil_rmtree(dir);
    free(path);
    free(dir);
    free(big);
}

/* Publishes 'text' the way kubelet updates a ConfigMap volume: a new
 * timestamped directory, then "..data" swapped to it with one rename. */
static void
kubelet_publish(const char *dir, unsigned version, const char *text)
{
    char name[64], *sub, *link_tmp = testutil_path(dir, "..data_tmp");
    char *data = testutil_path(dir, "..data");

    snprintf(name, sizeof name, "..2024_01_01_00_00_0%u.123", version);
    sub = testutil_path(dir, name);
    assert_int_equal(mkdir(sub, 0755), 0);
    put(sub, "config.json", text, strlen(text));
    assert_int_equal(symlink(name, link_tmp), 0);
    assert_int_equal(rename(link_tmp, data), 0);
    free(sub);
    free(link_tmp);
    free(data);
}

static void
test_configsource_file_follows_kubelet_data_swaps(void **unused)
{
    char *dir = testutil_tempdir("configsource-kubelet");
    char *path = testutil_path(dir, "config.json");
    struct configsource *source = NULL;
    struct errmsg err;

    (void) unused;
    kubelet_publish(dir, 1, GOOD1);
    assert_int_equal(symlink("..data/config.json", path), 0);
    assert_int_equal(configsource_file_create(path, 60000, &source, &err), 0);
    assert_int_equal(next(source, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(source), 1);

    kubelet_publish(dir, 2, GOOD2);
    assert_int_equal(next(source, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(source), 2);

    kubelet_publish(dir, 3, BAD);
    assert_int_equal(next(source, &err), -EINVAL);
    assert_int_equal(generation(source), 2);

    kubelet_publish(dir, 4, GOOD3);
    assert_int_equal(next(source, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(source), 3);

    configsource_destroy(source);
    testutil_rmtree(dir);
    free(path);
    free(dir);
}

/* The directory does not exist at first: nothing to watch, so the recheck
 * finds the file once the directory and the file appear. */
static void
test_configsource_file_rechecks_a_late_directory(void **unused)
{
    char *top = testutil_tempdir("configsource-late");
    char *dir = testutil_path(top, "later");
    char *path = testutil_path(dir, "config.json");
    struct configsource *source = NULL;
    struct errmsg err;

    (void) unused;
    assert_int_equal(configsource_file_create(path, 50, &source, &err), 0);
    assert_int_equal(next(source, &err), -ENOENT);
    assert_int_equal(mkdir(dir, 0755), 0);
    put(dir, "config.json", GOOD3, strlen(GOOD3));
    assert_int_equal(next(source, &err), CONFIGSOURCE_CHANGED);
    assert_int_equal(generation(source), 3);

    configsource_destroy(source);
    testutil_rmtree(top);
    free(path);
    free(dir);
    free(top);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_configsource_file_follows_the_file),
        cmocka_unit_test(test_configsource_file_follows_kubelet_data_swaps),
        cmocka_unit_test(test_configsource_file_rechecks_a_late_directory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
