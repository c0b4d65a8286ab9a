/* Unit tests for tlspolicy: the GnuTLS priority strings built from
 * --tls-min-version and --tls-cipher-suites, checked by asking GnuTLS which
 * suites and versions each one enables, and every refusal's message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gnutls/gnutls.h>

#include "exportflows/http/tlspolicy.h"

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The suites (GnuTLS's names: "TLS_ECDHE_RSA_AES_128_GCM_SHA256") and the
 * versions ("TLS1.3") the priority string enables, sorted and ' '-joined. */
static void
enabled(const struct tlspolicy *policy, char *out, size_t size)
{
    gnutls_priority_t cache;
    const unsigned *versions;
    char *items[64];
    size_t n = 0, len = 0;
    int nv;

    assert_int_equal(gnutls_priority_init(&cache, policy->priority, NULL), 0);
    for (unsigned i = 0; n < 64; i++) {
        gnutls_protocol_t version;
        unsigned idx;
        const char *name;
        int r = gnutls_priority_get_cipher_suite_index(cache, i, &idx);

        if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            break;
        }
        if (r < 0) {
            continue;
        }
        name = gnutls_cipher_suite_info(idx, NULL, NULL, NULL, NULL, &version);
        items[n] = malloc(128);
        assert_non_null(items[n]);
        snprintf(items[n++], 128, "%s", name);
    }
    nv = gnutls_priority_protocol_list(cache, &versions);
    for (int i = 0; i < nv && n < 64; i++) {
        items[n] = malloc(128);
        assert_non_null(items[n]);
        snprintf(items[n++], 128, "%s", gnutls_protocol_get_name(versions[i]));
    }
    gnutls_priority_deinit(cache);
    qsort(items, n, sizeof *items, cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        len += (size_t) snprintf(out + len, size - len, "%s%s", i ? " " : "", items[i]);
        free(items[i]);
    }
}

static void
expect_enabled(const char *min, const char *suites, const char *want)
{
    struct tlspolicy policy;
    struct errmsg err = { "" };
    char got[2048];

    if (tlspolicy_parse(min, suites, &policy, &err)) {
        fail_msg("'%s' '%s': %s", min ? min : "", suites ? suites : "", err.text);
    }
    enabled(&policy, got, sizeof got);
    if (strcmp(got, want)) {
        fail_msg("'%s' '%s' enables\n  %s\nwant\n  %s\n(%s)", min ? min : "",
                 suites ? suites : "", got, want, policy.priority);
    }
}

#define TLS13_ALL "TLS1.2 TLS1.3 TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 " \
                  "TLS_CHACHA20_POLY1305_SHA256 "

/* TLS 1.2 without static RSA, CBC, SHA-1 or DHE; TLS 1.3 whole. */
static void
test_tlspolicy_default_is_ecdhe_aead_only(void **state)
{
    static const char want[] =
        TLS13_ALL "TLS_ECDHE_ECDSA_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_AES_256_GCM_SHA384 "
        "TLS_ECDHE_ECDSA_CHACHA20_POLY1305 TLS_ECDHE_RSA_AES_128_GCM_SHA256 "
        "TLS_ECDHE_RSA_AES_256_GCM_SHA384 TLS_ECDHE_RSA_CHACHA20_POLY1305";
    struct tlspolicy policy;
    char got[2048];

    tlspolicy_default(&policy);
    enabled(&policy, got, sizeof got);
    assert_string_equal(got, want);
    expect_enabled(NULL, NULL, want);
    expect_enabled("", "", want);
    expect_enabled("VersionTLS12", NULL, want);
    /* The finite-field groups are gone: TLS 1.3 key exchange is ECDHE too. */
    assert_non_null(strstr(policy.priority, "-GROUP-DH-ALL"));
}

static void
test_tlspolicy_min_version_13_drops_tls12(void **state)
{
    expect_enabled("VersionTLS13", NULL,
                   "TLS1.3 TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 "
                   "TLS_CHACHA20_POLY1305_SHA256");
    /* TLS 1.2 names under a TLS 1.3 minimum only choose TLS 1.3's ciphers. */
    expect_enabled("VersionTLS13", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                   "TLS1.3 TLS_AES_256_GCM_SHA384");
}

static void
test_tlspolicy_cipher_suites_limit_the_set(void **state)
{
    expect_enabled(NULL, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                   "TLS1.2 TLS1.3 TLS_AES_256_GCM_SHA384 TLS_ECDHE_RSA_AES_256_GCM_SHA384");
    /* Spaces, duplicates and Go's short ChaCha20 names are fine. */
    expect_enabled(NULL, " TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305 ,"
                   "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_AES_"
                   "128_GCM_SHA256",
                   "TLS1.2 TLS1.3 TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256 "
                   "TLS_ECDHE_ECDSA_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_CHACHA20_POLY1305");
    /* Only TLS 1.3 names (OpenShift's Modern profile): no TLS 1.2 suite left,
     * so no TLS 1.2. */
    expect_enabled(NULL, "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,"
                   "TLS_CHACHA20_POLY1305_SHA256",
                   "TLS1.3 TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 "
                   "TLS_CHACHA20_POLY1305_SHA256");
    /* OpenShift's Intermediate profile, in IANA names. */
    expect_enabled("VersionTLS12", "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,"
                   "TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,"
                   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
                   "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,"
                   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
                   "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,"
                   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                   TLS13_ALL "TLS_ECDHE_ECDSA_AES_128_GCM_SHA256 "
                   "TLS_ECDHE_ECDSA_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_CHACHA20_POLY1305 "
                   "TLS_ECDHE_RSA_AES_128_GCM_SHA256 TLS_ECDHE_RSA_AES_256_GCM_SHA384 "
                   "TLS_ECDHE_RSA_CHACHA20_POLY1305");
}

static void
test_tlspolicy_refusals_say_why(void **state)
{
    static const struct {
        const char *min, *suites, *message;
    } cases[] = {
        { "VersionTLS11", NULL, "--tls-min-version: VersionTLS11 is not offered" },
        { "VersionTLS10", NULL, "--tls-min-version: VersionTLS10 is not offered" },
        { "TLS12", NULL, "--tls-min-version: unknown version 'TLS12'" },
        { NULL, "TLS_RSA_WITH_AES_128_GCM_SHA256",
          "TLS_RSA_WITH_AES_128_GCM_SHA256 is refused: static RSA key exchange" },
        { NULL, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is refused: its cipher is not an AEAD" },
        { NULL, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", "finite-field DHE is not offered" },
        { NULL, "ECDHE-RSA-AES128-GCM-SHA256",
          "unknown cipher suite 'ECDHE-RSA-AES128-GCM-SHA256' (IANA names" },
        { NULL, " , ,", "' , ,' names no cipher suite" },
        { NULL, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
          "would also enable TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
        { NULL, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_CHACHA20_POLY1305_SHA256",
          "would also enable TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
        { NULL, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256_AND_A_VERY_LONG_NAME_THAT_GOES_ON_AND_ON",
          "unknown cipher suite 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256_AND_A_VERY_LONG" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tlspolicy policy = { "untouched" };
        struct errmsg err = { "" };

        assert_int_equal(tlspolicy_parse(cases[i].min, cases[i].suites, &policy, &err),
                         -EINVAL);
        if (!strstr(err.text, cases[i].message)) {
            fail_msg("case %zu: '%s' lacks '%s'", i, err.text, cases[i].message);
        }
        assert_string_equal(policy.priority, "untouched");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlspolicy_default_is_ecdhe_aead_only),
        cmocka_unit_test(test_tlspolicy_min_version_13_drops_tls12),
        cmocka_unit_test(test_tlspolicy_cipher_suites_limit_the_set),
        cmocka_unit_test(test_tlspolicy_refusals_say_why),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
