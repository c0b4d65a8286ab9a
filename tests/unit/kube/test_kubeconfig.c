/* Unit tests for kubeconfig: kubeconfig files (inline data and file forms, tokens,
 * contexts, errors), the in-cluster configuration, token re-reading and the
 * KUBECONFIG / --kubeconfig precedence.  Fixtures in tests/data/kubeconfig/. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "exportflows/kube/kubeconfig.h"

#include "../../lib/testutil.h"

#define DATA "tests/data/kubeconfig/"

static bool
pem_is(struct kubeconfig_pem pem, const char *text)
{
    return pem.data && pem.len == strlen(text) && !memcmp(pem.data, text, pem.len);
}

static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\nY2EgZm9yIHRlc3Rz\n-----END CERTIFICATE-----\n";
static const char cert_pem[] =
    "-----BEGIN CERTIFICATE-----\nY2xpZW50IGNlcnQ=\n-----END CERTIFICATE-----\n";
/* A stand-in, not a key: the loader passes PEM through to libcurl unread, and no
 * key material belongs in the repository. */
static const char key_pem[] =
    "-----BEGIN STAND-IN KEY-----\nY2xpZW50IGtleQ==\n-----END STAND-IN KEY-----\n";

static void
test_kubeconfig_reads_inline_data(void **state)
{
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };
    char *token = (char *) "unset";

    assert_int_equal(kubeconfig_load_file(DATA "data/kubeconfig", NULL, &cfg, &err), 0);
    assert_string_equal(kubeconfig_server(cfg), "https://127.0.0.1:6443");
    assert_string_equal(kubeconfig_namespace(cfg), "default");
    assert_false(kubeconfig_insecure(cfg));
    assert_true(pem_is(kubeconfig_ca(cfg), ca_pem));
    assert_true(pem_is(kubeconfig_client_cert(cfg), cert_pem));
    assert_true(pem_is(kubeconfig_client_key(cfg), key_pem));
    assert_int_equal(kubeconfig_token(cfg, false, &token, &err), 0);
    assert_null(token);
    kubeconfig_destroy(cfg);
}

static void
test_kubeconfig_picks_the_named_context(void **state)
{
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };
    char *token = NULL;

    assert_int_equal(kubeconfig_load_file(DATA "data/kubeconfig", "robot@other", &cfg, &err),
                     0);
    assert_string_equal(kubeconfig_server(cfg), "https://10.9.9.9:6443");
    assert_string_equal(kubeconfig_namespace(cfg), "exportflows");
    assert_null(kubeconfig_ca(cfg).data);
    assert_null(kubeconfig_client_cert(cfg).data);
    assert_int_equal(kubeconfig_token(cfg, false, &token, &err), 0);
    assert_string_equal(token, "inline-token");
    free(token);
    kubeconfig_destroy(cfg);
}

static void
test_kubeconfig_reads_files_relative_to_itself(void **state)
{
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kubeconfig_load_file(DATA "files/kubeconfig", NULL, &cfg, &err), 0);
    assert_string_equal(kubeconfig_server(cfg), "https://[fd00::1]:6443");
    assert_true(pem_is(kubeconfig_ca(cfg), ca_pem));
    assert_true(pem_is(kubeconfig_client_cert(cfg), cert_pem));
    assert_true(pem_is(kubeconfig_client_key(cfg), key_pem));
    kubeconfig_destroy(cfg);
}

static void
test_kubeconfig_token_file_is_trimmed(void **state)
{
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };
    char *token = NULL;

    assert_int_equal(kubeconfig_load_file(DATA "files/kubeconfig", "tokenfile", &cfg, &err),
                     0);
    assert_string_equal(kubeconfig_namespace(cfg), "kube-system");
    assert_int_equal(kubeconfig_token(cfg, false, &token, &err), 0);
    assert_string_equal(token, "token-from-file");
    free(token);
    kubeconfig_destroy(cfg);
}

/* Every broken context of errors/kubeconfig and the message it must give. */
static void
test_kubeconfig_reports_broken_entries(void **state)
{
    static const struct {
        const char *context;
        int code;
        const char *message;
    } cases[] = {
        { "no-server", -EINVAL, "cluster 'noserver' has no server" },
        { "not-https", -EINVAL, "server 'ftp://127.0.0.1/' is not an http(s) URL" },
        { "missing-ca", -ENOENT, "cannot read certificate-authority" },
        { "bad-bool", -EINVAL, "insecure-skip-tls-verify is not a boolean" },
        { "exec-plugin", -ENOTSUP, "credential plugins" },
        { "cert-without-key", -EINVAL, "needs a client key" },
        { "bad-base64", -EINVAL, "client-certificate-data is not valid base64" },
        { "inline-token-crlf", -EINVAL, "user 'crlftoken': token is empty or holds a "
                                        "control character" },
        { "inline-token-tab", -EINVAL, "user 'tabtoken': token is empty or holds" },
        { "inline-token-empty", -EINVAL, "user 'emptytoken': token is empty or holds" },
        { "token-file-tab", -EINVAL, "token-with-tab' does not hold one token" },
        { "missing-cluster", -EINVAL, "cluster 'nowhere' of context 'missing-cluster' not found" },
        { "missing-user", -EINVAL, "user 'ghost' of context 'missing-user' not found" },
        { "no-such-context", -EINVAL, "context 'no-such-context' not found" },
        { NULL, -EINVAL, "no current-context is set" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct kubeconfig *cfg = NULL;
        struct errmsg err = { "" };

        assert_int_equal(kubeconfig_load_file(DATA "errors/kubeconfig", cases[i].context,
                                              &cfg, &err), cases[i].code);
        assert_null(cfg);
        if (!strstr(err.text, cases[i].message)) {
            fail_msg("context %s: '%s' lacks '%s'", cases[i].context, err.text,
                     cases[i].message);
        }
        assert_non_null(strstr(err.text, "kubeconfig 'tests/data/kubeconfig/errors/"));
    }
}

static void
test_kubeconfig_insecure_flag(void **state)
{
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kubeconfig_load_file(DATA "errors/kubeconfig", "insecure", &cfg, &err), 0);
    assert_true(kubeconfig_insecure(cfg));
    kubeconfig_destroy(cfg);
}

static void
test_kubeconfig_refuses_unreadable_and_invalid_files(void **state)
{
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };

    assert_int_equal(kubeconfig_load_file(DATA "nonexistent", NULL, &cfg, &err), -ENOENT);
    assert_non_null(strstr(err.text, "cannot read kubeconfig"));
    assert_int_equal(kubeconfig_load_file(DATA "errors/invalid-yaml", NULL, &cfg, &err),
                     -EINVAL);
    assert_non_null(strstr(err.text, "invalid YAML"));
    assert_int_equal(kubeconfig_load_file(DATA "files/token", NULL, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.text, "not a kubeconfig"));
    assert_null(cfg);
}

/* ---- in-cluster ---- */

struct tmpdir {
    char path[64];
    char token[128], ca[128], ns[128];
};

static void
make_tmpdir(struct tmpdir *t)
{
    snprintf(t->path, sizeof t->path, "/tmp/exportflows-kubeconfig-XXXXXX");
    assert_non_null(mkdtemp(t->path));
    snprintf(t->token, sizeof t->token, "%s/token", t->path);
    snprintf(t->ca, sizeof t->ca, "%s/ca.crt", t->path);
    snprintf(t->ns, sizeof t->ns, "%s/namespace", t->path);
    assert_int_equal(testutil_write_text(t->ca, ca_pem), 0);
    assert_int_equal(testutil_write_text(t->token, "first\n"), 0);
}

static void
remove_tmpdir(struct tmpdir *t)
{
    unlink(t->token);
    unlink(t->ca);
    unlink(t->ns);
    assert_int_equal(rmdir(t->path), 0);
}

static void
test_kubeconfig_incluster_reads_the_service_account(void **state)
{
    struct tmpdir t;
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };
    char *token = NULL;

    make_tmpdir(&t);
    assert_int_equal(testutil_write_text(t.ns, "exportflows\n"), 0);
    struct kubeconfig_incluster paths = { t.token, t.ca, t.ns, "fd00::10", "443" };

    assert_int_equal(kubeconfig_load_incluster(&paths, &cfg, &err), 0);
    assert_string_equal(kubeconfig_server(cfg), "https://[fd00::10]:443");
    assert_string_equal(kubeconfig_namespace(cfg), "exportflows");
    assert_true(pem_is(kubeconfig_ca(cfg), ca_pem));
    assert_int_equal(kubeconfig_token(cfg, false, &token, &err), 0);
    assert_string_equal(token, "first");
    free(token);
    kubeconfig_destroy(cfg);

    /* No namespace file: "default".  Bad port: refused. */
    unlink(t.ns);
    paths.host = "10.96.0.1";
    assert_int_equal(kubeconfig_load_incluster(&paths, &cfg, &err), 0);
    assert_string_equal(kubeconfig_server(cfg), "https://10.96.0.1:443");
    assert_string_equal(kubeconfig_namespace(cfg), "default");
    kubeconfig_destroy(cfg);
    paths.port = "0443";
    assert_int_equal(kubeconfig_load_incluster(&paths, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.text, "KUBERNETES_SERVICE_PORT '0443'"));
    remove_tmpdir(&t);
}

static void
test_kubeconfig_token_is_reread_when_stale(void **state)
{
    struct tmpdir t;
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };
    char *token = NULL;

    make_tmpdir(&t);
    struct kubeconfig_incluster paths = { t.token, t.ca, t.ns, "10.96.0.1", "443" };

    assert_int_equal(kubeconfig_load_incluster(&paths, &cfg, &err), 0);
    assert_int_equal(testutil_write_text(t.token, "second\n"), 0);
    /* Within the refresh interval the copy in memory is used... */
    assert_int_equal(kubeconfig_token(cfg, false, &token, &err), 0);
    assert_string_equal(token, "first");
    free(token);
    /* ...unless a reload is asked for (after a 401)... */
    assert_int_equal(kubeconfig_token(cfg, true, &token, &err), 0);
    assert_string_equal(token, "second");
    free(token);
    /* ...or the copy is older than the interval. */
    assert_int_equal(testutil_write_text(t.token, "third"), 0);
    kubeconfig_set_token_refresh(cfg, 0);
    assert_int_equal(kubeconfig_token(cfg, false, &token, &err), 0);
    assert_string_equal(token, "third");
    free(token);
    /* A failed re-read keeps the last good token. */
    unlink(t.token);
    assert_int_equal(kubeconfig_token(cfg, false, &token, &err), 0);
    assert_string_equal(token, "third");
    free(token);
    kubeconfig_destroy(cfg);

    /* Without a token file at start: an error. */
    assert_int_equal(kubeconfig_load_incluster(&paths, &cfg, &err), -ENOENT);
    assert_non_null(strstr(err.text, "in-cluster configuration: cannot read token file"));
    remove_tmpdir(&t);
}

static void
test_kubeconfig_default_order(void **state)
{
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };

    unsetenv("KUBERNETES_SERVICE_HOST");
    setenv("KUBECONFIG", DATA "files/kubeconfig:" DATA "nonexistent", 1);
    /* The flag wins over KUBECONFIG. */
    assert_int_equal(kubeconfig_load_default(DATA "data/kubeconfig", &cfg, &err), 0);
    assert_string_equal(kubeconfig_server(cfg), "https://127.0.0.1:6443");
    kubeconfig_destroy(cfg);
    /* KUBECONFIG's first entry. */
    assert_int_equal(kubeconfig_load_default(NULL, &cfg, &err), 0);
    assert_string_equal(kubeconfig_server(cfg), "https://[fd00::1]:6443");
    kubeconfig_destroy(cfg);
    /* Nothing at all. */
    unsetenv("KUBECONFIG");
    assert_int_equal(kubeconfig_load_default("", &cfg, &err), -ENOENT);
    assert_non_null(strstr(err.text, "no Kubernetes configuration"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubeconfig_reads_inline_data),
        cmocka_unit_test(test_kubeconfig_picks_the_named_context),
        cmocka_unit_test(test_kubeconfig_reads_files_relative_to_itself),
        cmocka_unit_test(test_kubeconfig_token_file_is_trimmed),
        cmocka_unit_test(test_kubeconfig_reports_broken_entries),
        cmocka_unit_test(test_kubeconfig_insecure_flag),
        cmocka_unit_test(test_kubeconfig_refuses_unreadable_and_invalid_files),
        cmocka_unit_test(test_kubeconfig_incluster_reads_the_service_account),
        cmocka_unit_test(test_kubeconfig_token_is_reread_when_stale),
        cmocka_unit_test(test_kubeconfig_default_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
