/* Unit tests for tlscreds (private to httpserver): loading a certificate and
 * key pair, refusing broken ones, reloading only on a real change and keeping
 * the old pair alive for the connections that hold it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "exportflows/http/certs.h"
#include "../../../src/http/tlscreds.h"
#include "../../lib/testutil.h"

struct files {
    char *dir, *cert, *key;     /* the pair the store reads */
};

/* A pair valid for 'days' in "<dir>/<name>/". */
static void
generate(const char *dir, const char *name, unsigned days)
{
    static const char *const sans[] = { "127.0.0.1" };
    struct certs_request req = { "exportflows-webhook", "exportflows", sans, 1, days };
    struct errmsg err = { "" };
    char *out = testutil_path(dir, name);

    assert_int_equal(mkdir(out, 0700), 0);
    if (certs_generate(out, &req, &err) < 0) {
        fail_msg("certs_generate: %s", err.text);
    }
    free(out);
}

/* Copies the first 'percent' % of "<dir>/<from>/<file>" to 'to'. */
static void
copy_part(const struct files *f, const char *from, const char *file, const char *to,
          unsigned percent)
{
    char *sub = testutil_path(f->dir, from), *path = testutil_path(sub, file);
    size_t len;
    char *text = testutil_read_file(path, &len);

    assert_non_null(text);
    assert_int_equal(testutil_write_file(to, text, len * percent / 100), 0);
    free(text);
    free(path);
    free(sub);
}

/* Copies "<dir>/<from>/<file>" to 'to'. */
static void
copy(const struct files *f, const char *from, const char *file, const char *to)
{
    copy_part(f, from, file, to, 100);
}

static void
serve_pair(const struct files *f, const char *name)
{
    copy(f, name, "tls.crt", f->cert);
    copy(f, name, "tls.key", f->key);
}

static int
setup(void **state)
{
    static struct files f;

    f.dir = testutil_tempdir("tlscreds");
    assert_non_null(f.dir);
    generate(f.dir, "a", 10);
    generate(f.dir, "b", 20);
    f.cert = testutil_path(f.dir, "tls.crt");
    f.key = testutil_path(f.dir, "tls.key");
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct files *f = *state;

    testutil_rmtree(f->dir);
    free(f->dir);
    free(f->cert);
    free(f->key);
    return 0;
}

static void
test_tlscreds_store_loads_a_pair(void **state)
{
    struct files *f = *state;
    struct tlscreds_store *store = NULL;
    struct tlscreds *creds;
    gnutls_pcert_st *pcerts = NULL;
    gnutls_privkey_t key = NULL;
    unsigned n = 0;
    struct errmsg err = { "" };
    time_t left;

    serve_pair(f, "a");
    if (tlscreds_store_create(f->cert, f->key, &store, &err) < 0) {
        fail_msg("tlscreds_store_create: %s", err.text);
    }
    left = tlscreds_store_not_after(store) - time(NULL);
    assert_in_range(left, 9 * 86400, 10 * 86400 + 60);
    assert_false(tlscreds_store_files_changed(store));
    creds = tlscreds_acquire(store);
    assert_non_null(creds);
    tlscreds_get(creds, &pcerts, &n, &key);
    assert_non_null(pcerts);
    assert_true(n >= 1);
    assert_non_null(key);
    tlscreds_release(creds);
    tlscreds_release(NULL);
    tlscreds_store_destroy(store);
    tlscreds_store_destroy(NULL);
}

static void
test_tlscreds_store_refuses_broken_pairs(void **state)
{
    struct files *f = *state;
    struct tlscreds_store *store = NULL;
    struct errmsg err = { "" };
    char *missing = testutil_path(f->dir, "missing.crt");

    copy(f, "a", "tls.crt", f->cert);
    copy(f, "b", "tls.key", f->key);
    assert_int_equal(tlscreds_store_create(f->cert, f->key, &store, &err), -EINVAL);
    assert_non_null(strstr(err.text, "does not match"));
    assert_int_equal(tlscreds_store_create(missing, f->key, &store, &err), -ENOENT);
    assert_non_null(strstr(err.text, "missing.crt"));
    copy_part(f, "a", "tls.key", f->key, 50);      /* a key cut in half */
    copy(f, "a", "tls.crt", f->cert);
    assert_int_equal(tlscreds_store_create(f->cert, f->key, &store, &err), -EINVAL);
    assert_non_null(strstr(err.text, "private key"));
    assert_int_equal(testutil_write_text(f->cert, "not a certificate\n"), 0);
    assert_int_equal(tlscreds_store_create(f->cert, f->key, &store, &err), -EINVAL);
    assert_non_null(strstr(err.text, "certificate"));
    assert_null(store);
    free(missing);
}

static void
test_tlscreds_reload_swaps_only_on_a_real_change(void **state)
{
    struct files *f = *state;
    struct tlscreds_store *store = NULL;
    struct errmsg err = { "" };
    bool changed = true;
    time_t first;

    serve_pair(f, "a");
    assert_int_equal(tlscreds_store_create(f->cert, f->key, &store, &err), 0);
    first = tlscreds_store_not_after(store);
    /* Rewritten with the same bytes: looks changed, but nothing to swap. */
    serve_pair(f, "a");
    assert_int_equal(tlscreds_store_reload(store, &changed, &err), 0);
    assert_false(changed);
    assert_false(tlscreds_store_files_changed(store));
    serve_pair(f, "b");
    assert_true(tlscreds_store_files_changed(store));
    assert_int_equal(tlscreds_store_reload(store, &changed, &err), 0);
    assert_true(changed);
    assert_true(tlscreds_store_not_after(store) > first + 5 * 86400);
    /* A broken pair is refused and the one in use stays. */
    copy(f, "a", "tls.key", f->key);
    changed = true;
    assert_int_equal(tlscreds_store_reload(store, &changed, &err), -EINVAL);
    assert_non_null(strstr(err.text, "does not match"));
    assert_true(changed);                       /* not written on failure */
    assert_true(tlscreds_store_not_after(store) > first + 5 * 86400);
    /* ... and remembered: the periodic check does not retry it. */
    assert_false(tlscreds_store_files_changed(store));
    tlscreds_store_destroy(store);
}

static void
test_tlscreds_reference_outlives_a_reload(void **state)
{
    struct files *f = *state;
    struct tlscreds_store *store = NULL;
    struct errmsg err = { "" };
    struct tlscreds *old, *fresh;
    gnutls_pcert_st *pcerts = NULL;
    gnutls_privkey_t key = NULL;
    unsigned n = 0;
    bool changed = false;

    serve_pair(f, "a");
    assert_int_equal(tlscreds_store_create(f->cert, f->key, &store, &err), 0);
    old = tlscreds_acquire(store);
    serve_pair(f, "b");
    assert_int_equal(tlscreds_store_reload(store, &changed, &err), 0);
    assert_true(changed);
    fresh = tlscreds_acquire(store);
    assert_ptr_not_equal(old, fresh);
    /* The old pair is still whole (the sanitizer build sees a use after free). */
    tlscreds_get(old, &pcerts, &n, &key);
    assert_true(n >= 1);
    assert_true(pcerts[0].cert.size > 100);
    assert_non_null(key);
    tlscreds_release(old);
    tlscreds_release(fresh);
    tlscreds_store_destroy(store);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlscreds_store_loads_a_pair),
        cmocka_unit_test(test_tlscreds_store_refuses_broken_pairs),
        cmocka_unit_test(test_tlscreds_reload_swaps_only_on_a_real_change),
        cmocka_unit_test(test_tlscreds_reference_outlives_a_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
