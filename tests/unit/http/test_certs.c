/* Tests of certificate generation: the chain verifies against ca.crt, the names
 * a Service needs are there, the key is private, and certs_check_pair() tells a
 * good pair from a mismatched or expired one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "exportflows/http/certs.h"

struct dirs {
    char a[64];
    char b[64];
};

static int
setup(void **state)
{
    struct dirs *d = calloc(1, sizeof *d);

    snprintf(d->a, sizeof d->a, "/tmp/test_certs.XXXXXX");
    snprintf(d->b, sizeof d->b, "/tmp/test_certs.XXXXXX");
    if (!mkdtemp(d->a) || !mkdtemp(d->b)) {
        return -1;
    }
    *state = d;
    return 0;
}

static void
remove_dir(const char *dir)
{
    static const char *const names[] = { "ca.crt", "tls.crt", "tls.key", "old.crt", "old.key" };
    char path[128];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int
teardown(void **state)
{
    struct dirs *d = *state;

    remove_dir(d->a);
    remove_dir(d->b);
    free(d);
    return 0;
}

static X509 *
load_cert(const char *dir, const char *name)
{
    char path[128];
    FILE *f;
    X509 *cert;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "re");
    assert_non_null(f);
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(cert);
    return cert;
}

static void
generate(const char *dir)
{
    static const char *const extra[] = { "127.0.0.1", "localhost", "::1" };
    struct certs_request req = {
        .service = "exportflows-webhook",
        .namespace_name = "exportflows",
        .extra_sans = extra,
        .n_extra_sans = 3,
        .days = 30,
    };
    struct errmsg err = { "" };

    assert_int_equal(certs_generate(dir, &req, &err), 0);
}

static void
test_certs_chain_verifies_against_ca(void **state)
{
    struct dirs *d = *state;
    X509 *ca, *cert;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    BASIC_CONSTRAINTS *bc;

    generate(d->a);
    ca = load_cert(d->a, "ca.crt");
    cert = load_cert(d->a, "tls.crt");
    assert_int_equal(X509_STORE_add_cert(store, ca), 1);
    assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
    assert_int_equal(X509_verify_cert(ctx), 1);

    /* The CA is a CA and the serving certificate is not. */
    bc = X509_get_ext_d2i(ca, NID_basic_constraints, NULL, NULL);
    assert_non_null(bc);
    assert_true(bc->ca);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_check_ca(cert), 0);
    assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
    assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
    assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(cert)), EVP_PKEY_EC);

    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ca);
    X509_free(cert);
}

static void
test_certs_sans_cover_the_service(void **state)
{
    static const char *const dns[] = {
        "exportflows-webhook.exportflows.svc",
        "exportflows-webhook.exportflows.svc.cluster.local",
        "exportflows-webhook.exportflows",
        "exportflows-webhook",
        "localhost",
    };
    struct dirs *d = *state;
    X509 *cert;

    generate(d->a);
    cert = load_cert(d->a, "tls.crt");
    for (size_t i = 0; i < sizeof dns / sizeof dns[0]; i++) {
        assert_int_equal(X509_check_host(cert, dns[i], 0, 0, NULL), 1);
    }
    assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(cert, "::1", 0), 1);
    /* An address is an IP entry, not a DNS name, and nothing else slips in. */
    assert_int_equal(X509_check_host(cert, "127.0.0.1", 0, 0, NULL), 0);
    assert_int_equal(X509_check_host(cert, "other.exportflows.svc", 0, 0, NULL), 0);
    X509_free(cert);
}

static void
test_certs_key_is_private_and_serials_differ(void **state)
{
    struct dirs *d = *state;
    char path[128];
    struct stat st;
    X509 *a, *b;

    generate(d->a);
    generate(d->b);
    snprintf(path, sizeof path, "%s/tls.key", d->a);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    a = load_cert(d->a, "tls.crt");
    b = load_cert(d->b, "tls.crt");
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
                                          X509_get0_serialNumber(b)), 0);
    X509_free(a);
    X509_free(b);
}

static void
test_certs_check_pair_accepts_a_good_pair(void **state)
{
    struct dirs *d = *state;
    char cert[128], key[128];
    struct errmsg err = { "" };
    time_t not_after = 0;

    generate(d->a);
    snprintf(cert, sizeof cert, "%s/tls.crt", d->a);
    snprintf(key, sizeof key, "%s/tls.key", d->a);
    assert_int_equal(certs_check_pair(cert, key, &not_after, &err), 0);
    /* 30 days, give or take the clock. */
    assert_true(not_after > time(NULL) + 29 * 86400);
    assert_true(not_after < time(NULL) + 31 * 86400);
}

static void
test_certs_check_pair_refuses_a_mismatch(void **state)
{
    struct dirs *d = *state;
    char cert[128], key[128];
    struct errmsg err = { "" };
    time_t not_after = 42;

    generate(d->a);
    generate(d->b);
    snprintf(cert, sizeof cert, "%s/tls.crt", d->a);
    snprintf(key, sizeof key, "%s/tls.key", d->b);
    assert_int_equal(certs_check_pair(cert, key, &not_after, &err), -EINVAL);
    assert_non_null(strstr(err.text, "does not match"));
    assert_int_equal(not_after, 42);    /* untouched on failure */

    snprintf(key, sizeof key, "%s/missing.key", d->a);
    assert_int_equal(certs_check_pair(cert, key, &not_after, &err), -ENOENT);
    assert_non_null(strstr(err.text, "missing.key"));
}

/* An expired self-signed pair written by the test itself. */
static void
write_expired_pair(const char *dir)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    char path[128];
    FILE *f;

    X509_set_version(cert, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), -10 * 86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), -86400);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
                               (const unsigned char *) "old", -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
    snprintf(path, sizeof path, "%s/old.crt", dir);
    f = fopen(path, "we");
    PEM_write_X509(f, cert);
    fclose(f);
    snprintf(path, sizeof path, "%s/old.key", dir);
    f = fopen(path, "we");
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void
test_certs_check_pair_refuses_expired(void **state)
{
    struct dirs *d = *state;
    char cert[128], key[128];
    struct errmsg err = { "" };
    time_t not_after = 0;

    write_expired_pair(d->a);
    snprintf(cert, sizeof cert, "%s/old.crt", d->a);
    snprintf(key, sizeof key, "%s/old.key", d->a);
    assert_int_equal(certs_check_pair(cert, key, &not_after, &err), -EINVAL);
    assert_non_null(strstr(err.text, "expired"));
}

static void
test_certs_generate_refuses_bad_input(void **state)
{
    struct dirs *d = *state;
    static const char *const bad_san[] = { "a,DNS:evil.example" };
    struct certs_request req = { "svc", "ns", bad_san, 1, 0 };
    struct errmsg err = { "" };

    assert_int_equal(certs_generate(d->a, &req, &err), -EINVAL);
    assert_non_null(strstr(err.text, "subject alternative name"));
    req.n_extra_sans = 0;
    req.namespace_name = "";
    assert_int_equal(certs_generate(d->a, &req, &err), -EINVAL);
    req.namespace_name = "ns";
    assert_int_equal(certs_generate("/nonexistent/dir", &req, &err), -ENOENT);
    assert_non_null(strstr(err.text, "/nonexistent/dir"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_certs_chain_verifies_against_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certs_sans_cover_the_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certs_key_is_private_and_serials_differ, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_certs_check_pair_accepts_a_good_pair, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_certs_check_pair_refuses_a_mismatch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_certs_check_pair_refuses_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_certs_generate_refuses_bad_input, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
