/* tlspolicy — see include/exportflows/http/tlspolicy.h. */
#include "exportflows/http/tlspolicy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "exportflows/base/capbuf.h"

/* The pieces GnuTLS composes suites from.  KX_NONE marks a TLS 1.3 suite,
 * whose key exchange is not part of the suite. */
enum kx { KX_NONE, KX_ECDHE_ECDSA, KX_ECDHE_RSA, N_KX };
enum cipher { CIPHER_AES_128_GCM, CIPHER_AES_256_GCM, CIPHER_CHACHA20, N_CIPHER };

static const char *const kx_keyword[N_KX] = { NULL, "ECDHE-ECDSA", "ECDHE-RSA" };
static const char *const cipher_keyword[N_CIPHER] = {
    "AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305",
};

/* Suites by IANA name, as Kubernetes' --tls-cipher-suites spells them. */
static const struct suite {
    const char *name;
    enum kx kx;
    enum cipher cipher;
} suites[] = {
    { "TLS_AES_128_GCM_SHA256", KX_NONE, CIPHER_AES_128_GCM },
    { "TLS_AES_256_GCM_SHA384", KX_NONE, CIPHER_AES_256_GCM },
    { "TLS_CHACHA20_POLY1305_SHA256", KX_NONE, CIPHER_CHACHA20 },
    { "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", KX_ECDHE_ECDSA, CIPHER_AES_128_GCM },
    { "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", KX_ECDHE_RSA, CIPHER_AES_128_GCM },
    { "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", KX_ECDHE_ECDSA, CIPHER_AES_256_GCM },
    { "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", KX_ECDHE_RSA, CIPHER_AES_256_GCM },
    { "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", KX_ECDHE_ECDSA, CIPHER_CHACHA20 },
    { "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", KX_ECDHE_RSA, CIPHER_CHACHA20 },
    /* Go's older names for the same two. */
    { "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", KX_ECDHE_ECDSA, CIPHER_CHACHA20 },
    { "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", KX_ECDHE_RSA, CIPHER_CHACHA20 },
};

/* Suites Kubernetes knows that this server refuses, and why. */
static const struct refused {
    const char *name;
    const char *why;
} refused[] = {
#define STATIC_RSA "static RSA key exchange has no forward secrecy"
#define NOT_AEAD "its cipher is not an AEAD (CBC, RC4 or 3DES)"
#define FFDHE "finite-field DHE is not offered, only ECDHE"
    { "TLS_RSA_WITH_RC4_128_SHA", STATIC_RSA },
    { "TLS_RSA_WITH_3DES_EDE_CBC_SHA", STATIC_RSA },
    { "TLS_RSA_WITH_AES_128_CBC_SHA", STATIC_RSA },
    { "TLS_RSA_WITH_AES_256_CBC_SHA", STATIC_RSA },
    { "TLS_RSA_WITH_AES_128_CBC_SHA256", STATIC_RSA },
    { "TLS_RSA_WITH_AES_128_GCM_SHA256", STATIC_RSA },
    { "TLS_RSA_WITH_AES_256_GCM_SHA384", STATIC_RSA },
    { "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", NOT_AEAD },
    { "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", NOT_AEAD },
    { "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", NOT_AEAD },
    { "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", NOT_AEAD },
    { "TLS_ECDHE_RSA_WITH_RC4_128_SHA", NOT_AEAD },
    { "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", NOT_AEAD },
    { "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", NOT_AEAD },
    { "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", NOT_AEAD },
    { "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", NOT_AEAD },
    { "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", FFDHE },
    { "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", FFDHE },
#undef STATIC_RSA
#undef NOT_AEAD
#undef FFDHE
};

#define N_ELEMS(a) (sizeof (a) / sizeof (a)[0])
#define NAME_MAX_LEN 64

/* What the flags ask for. */
struct selection {
    bool tls12;
    bool kx[N_KX];
    bool named[N_KX][N_CIPHER];
    enum cipher order[N_CIPHER];    /* ciphers in the order first named */
    size_t n_ciphers;
};

static int
parse_min_version(const char *text, bool *tls12, struct errmsg *err)
{
    if (!text || !*text || !strcmp(text, "VersionTLS12")) {
        *tls12 = true;
    } else if (!strcmp(text, "VersionTLS13")) {
        *tls12 = false;
    } else if (!strcmp(text, "VersionTLS10") || !strcmp(text, "VersionTLS11")) {
        return errmsg_set(err, -EINVAL, "--tls-min-version: %s is not offered; use "
                          "VersionTLS12 or VersionTLS13", text);
    } else {
        return errmsg_set(err, -EINVAL, "--tls-min-version: unknown version '%s' "
                          "(VersionTLS12 or VersionTLS13)", text);
    }
    return 0;
}

static void
select_cipher(struct selection *sel, enum kx kx, enum cipher cipher)
{
    bool seen = false;

    for (size_t i = 0; i < sel->n_ciphers; i++) {
        seen = seen || sel->order[i] == cipher;
    }
    if (!seen) {
        sel->order[sel->n_ciphers++] = cipher;
    }
    sel->kx[kx] = true;
    sel->named[kx][cipher] = true;
}

/* Adds the suite called 'name' to 'sel'. */
static int
select_suite(struct selection *sel, const char *name, struct errmsg *err)
{
    for (size_t i = 0; i < N_ELEMS(suites); i++) {
        if (!strcmp(name, suites[i].name)) {
            select_cipher(sel, suites[i].kx, suites[i].cipher);
            return 0;
        }
    }
    for (size_t i = 0; i < N_ELEMS(refused); i++) {
        if (!strcmp(name, refused[i].name)) {
            return errmsg_set(err, -EINVAL, "--tls-cipher-suites: %s is refused: %s; "
                              "TLS 1.2 is only offered with ECDHE and AES-GCM or "
                              "ChaCha20-Poly1305", name, refused[i].why);
        }
    }
    return errmsg_set(err, -EINVAL, "--tls-cipher-suites: unknown cipher suite '%s' "
                      "(IANA names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", name);
}

/* Splits the comma-separated list (spaces around names are ignored). */
static int
select_suites(struct selection *sel, const char *list, struct errmsg *err)
{
    const char *p = list;

    while (*p) {
        size_t len = strcspn(p, ",");
        char name[NAME_MAX_LEN + 1];
        const char *start = p;
        int r;

        p += len + (p[len] == ',');
        while (len && (*start == ' ' || *start == '\t')) {
            start++;
            len--;
        }
        while (len && (start[len - 1] == ' ' || start[len - 1] == '\t')) {
            len--;
        }
        if (!len) {
            continue;
        }
        if (len > NAME_MAX_LEN) {
            return errmsg_set(err, -EINVAL, "--tls-cipher-suites: unknown cipher suite "
                              "'%.*s...'", NAME_MAX_LEN, start);
        }
        memcpy(name, start, len);
        name[len] = '\0';
        if ((r = select_suite(sel, name, err)) < 0) {
            return r;
        }
    }
    if (!sel->n_ciphers) {
        return errmsg_set(err, -EINVAL, "--tls-cipher-suites: '%s' names no cipher suite",
                          list);
    }
    return 0;
}

static const char *
suite_name(enum kx kx, enum cipher cipher)
{
    for (size_t i = 0; i < N_ELEMS(suites); i++) {
        if (suites[i].kx == kx && suites[i].cipher == cipher) {
            return suites[i].name;
        }
    }
    return "?";
}

/* TLS 1.2 gets every named key exchange with every cipher: refuses a list for
 * which that is more than was named. */
static int
check_expressible(const struct selection *sel, struct errmsg *err)
{
    for (int kx = KX_NONE + 1; kx < N_KX; kx++) {
        for (size_t i = 0; sel->kx[kx] && i < sel->n_ciphers; i++) {
            if (!sel->named[kx][sel->order[i]]) {
                return errmsg_set(err, -EINVAL, "--tls-cipher-suites: GnuTLS pairs every "
                                  "cipher with every key exchange, so this list would also "
                                  "enable %s; name it too or leave its cipher out",
                                  suite_name((enum kx) kx, sel->order[i]));
            }
        }
    }
    return 0;
}

/* The GnuTLS priority string for 'sel'.  NORMAL keeps GnuTLS's signature
 * algorithms and elliptic curves; the finite-field groups go, as TLS 1.3 then
 * also only does ECDHE. */
static void
build_priority(const struct selection *sel, struct tlspolicy *policy)
{
    bool tls12 = sel->tls12 && (sel->kx[KX_ECDHE_ECDSA] || sel->kx[KX_ECDHE_RSA]);
    struct capbuf b;

    capbuf_init_fixed(&b, policy->priority, sizeof policy->priority, CAPBUF_CUT);
    capbuf_printf(&b, "NORMAL:-VERS-ALL:+VERS-TLS1.3%s",
                  tls12 ? ":+VERS-TLS1.2:-KX-ALL" : ":-KX-ALL");
    for (int kx = KX_NONE + 1; tls12 && kx < N_KX; kx++) {
        if (sel->kx[kx]) {
            capbuf_printf(&b, ":+%s", kx_keyword[kx]);
        }
    }
    capbuf_printf(&b, ":-CIPHER-ALL");
    for (size_t i = 0; i < sel->n_ciphers; i++) {
        capbuf_printf(&b, ":+%s", cipher_keyword[sel->order[i]]);
    }
    capbuf_printf(&b, ":-MAC-ALL:+AEAD:-GROUP-DH-ALL:%%SERVER_PRECEDENCE");
}

/* GnuTLS itself checks the string, so that a mistake here shows at start-up
 * with a reason rather than as a server that does not start. */
static int
check_priority(const struct tlspolicy *policy, struct errmsg *err)
{
    gnutls_priority_t cache;
    const char *pos = NULL;
    int g = gnutls_priority_init(&cache, policy->priority, &pos);

    if (g < 0) {
        return errmsg_set(err, -EINVAL, "GnuTLS refuses the priority string '%s' at '%s': %s",
                          policy->priority, pos ? pos : "", gnutls_strerror(g));
    }
    gnutls_priority_deinit(cache);
    return 0;
}

static void
select_all(struct selection *sel)
{
    for (size_t i = 0; i < N_ELEMS(suites); i++) {
        select_cipher(sel, suites[i].kx, suites[i].cipher);
    }
}

void
tlspolicy_default(struct tlspolicy *policy)
{
    struct selection sel = { .tls12 = true };

    select_all(&sel);
    build_priority(&sel, policy);
}

int
tlspolicy_parse(const char *min_version, const char *cipher_suites,
                struct tlspolicy *ret, struct errmsg *err)
{
    struct selection sel = { .tls12 = true };
    struct tlspolicy policy;
    int r;

    if ((r = parse_min_version(min_version, &sel.tls12, err)) < 0) {
        return r;
    }
    if (!cipher_suites || !*cipher_suites) {
        select_all(&sel);
    } else if ((r = select_suites(&sel, cipher_suites, err)) < 0
               || (sel.tls12 && (r = check_expressible(&sel, err)) < 0)) {
        return r;
    }
    build_priority(&sel, &policy);
    if ((r = check_priority(&policy, err)) < 0) {
        return r;
    }
    *ret = policy;
    return 0;
}
