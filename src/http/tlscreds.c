/* tlscreds — see src/http/tlscreds.h. */
#include "tlscreds.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/x509.h>

#include "exportflows/base/readfile.h"

/* A PEM certificate chain or key file is a few KiB; the cap keeps a wrong path
 * (a log, a device) from being read whole. */
#define TLSCREDS_MAX_FILE (1024 * 1024)
#define TLSCREDS_MAX_CHAIN 8
/* Clock skew tolerated for a certificate made just now on another machine. */
#define TLSCREDS_SKEW_S 300

struct tlscreds {
    atomic_uint refs;
    gnutls_pcert_st pcerts[TLSCREDS_MAX_CHAIN];
    unsigned n_pcerts;
    gnutls_privkey_t key;
    time_t not_after;
    char *cert_pem;             /* the file contents, to tell a real change */
    size_t cert_len;
    char *key_pem;
    size_t key_len;
};

/* What stat(2) says of one file, through symlinks. */
struct file_sig {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
    bool ok;
};

struct tlscreds_store {
    pthread_mutex_t lock;       /* guards 'current' and the signatures */
    pthread_mutex_t reload_lock;/* one reload at a time */
    char *cert_file;
    char *key_file;
    struct tlscreds *current;   /* the store's own reference */
    struct file_sig cert_sig;
    struct file_sig key_sig;
};

static void
creds_free(struct tlscreds *c)
{
    if (!c) {
        return;
    }
    for (unsigned i = 0; i < c->n_pcerts; i++) {
        gnutls_pcert_deinit(&c->pcerts[i]);
    }
    gnutls_privkey_deinit(c->key);
    readfile_free(c->key_pem, c->key_len, READFILE_WIPE);
    readfile_free(c->cert_pem, c->cert_len, 0);
    free(c);
}

void
tlscreds_release(struct tlscreds *creds)
{
    if (creds && atomic_fetch_sub(&creds->refs, 1) == 1) {
        creds_free(creds);
    }
}

static void
file_sig_read(const char *file, struct file_sig *sig)
{
    struct stat st;

    memset(sig, 0, sizeof *sig);
    if (stat(file, &st) == 0) {
        sig->dev = st.st_dev;
        sig->ino = st.st_ino;
        sig->size = st.st_size;
        sig->mtime = st.st_mtim;
        sig->ctime = st.st_ctim;
        sig->ok = true;
    }
}

static bool
file_sig_equal(const struct file_sig *a, const struct file_sig *b)
{
    return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino
           && a->size == b->size
           && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec
           && a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static int
key_id(gnutls_pubkey_t pub, unsigned char *id, size_t *len)
{
    return gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id, len);
}

/* Whether the public half of 'key' is the key certified by 'pcert'. */
static bool
key_matches(gnutls_privkey_t key, const gnutls_pcert_st *pcert)
{
    unsigned char a[64], b[64];
    size_t a_len = sizeof a, b_len = sizeof b;
    gnutls_pubkey_t pub = NULL;
    bool match = false;

    if (gnutls_pubkey_init(&pub) == 0
        && gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0
        && key_id(pub, a, &a_len) == 0
        && key_id(pcert->pubkey, b, &b_len) == 0) {
        match = a_len == b_len && !memcmp(a, b, a_len);
    }
    gnutls_pubkey_deinit(pub);
    return match;
}

static int
check_validity(struct tlscreds *c, const char *cert_file, struct errmsg *err)
{
    gnutls_x509_crt_t crt = NULL;
    time_t now = time(NULL), start, end;
    int r = 0;

    if (gnutls_x509_crt_init(&crt) < 0
        || gnutls_x509_crt_import(crt, &c->pcerts[0].cert, GNUTLS_X509_FMT_DER) < 0) {
        r = errmsg_set(err, -EINVAL, "cannot parse the certificate in '%s'", cert_file);
        goto out;
    }
    start = gnutls_x509_crt_get_activation_time(crt);
    end = gnutls_x509_crt_get_expiration_time(crt);
    if (start == (time_t) -1 || end == (time_t) -1) {
        r = errmsg_set(err, -EINVAL, "'%s' has an unreadable validity period", cert_file);
    } else if (now + TLSCREDS_SKEW_S < start) {
        r = errmsg_set(err, -EINVAL, "the certificate in '%s' is not valid yet", cert_file);
    } else if (now > end) {
        r = errmsg_set(err, -EINVAL, "the certificate in '%s' has expired", cert_file);
    } else {
        c->not_after = end;
    }
out:
    gnutls_x509_crt_deinit(crt);
    return r;
}

/* Parses the PEM texts already in 'c' into GnuTLS objects and checks them. */
static int
creds_parse(struct tlscreds *c, const char *cert_file, const char *key_file,
            struct errmsg *err)
{
    gnutls_datum_t cert = { (unsigned char *) c->cert_pem, (unsigned) c->cert_len };
    gnutls_datum_t key = { (unsigned char *) c->key_pem, (unsigned) c->key_len };
    unsigned n = TLSCREDS_MAX_CHAIN;
    int g;

    g = gnutls_pcert_list_import_x509_raw(c->pcerts, &n, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0 || n == 0) {
        return errmsg_set(err, -EINVAL, "cannot parse the certificate in '%s': %s",
                          cert_file, g < 0 ? gnutls_strerror(g) : "no certificate");
    }
    c->n_pcerts = n;
    if ((g = gnutls_privkey_init(&c->key)) < 0
        || (g = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM,
                                               NULL, 0)) < 0) {
        return errmsg_set(err, -EINVAL, "cannot parse the private key in '%s': %s",
                          key_file, gnutls_strerror(g));
    }
    if (!key_matches(c->key, &c->pcerts[0])) {
        return errmsg_set(err, -EINVAL,
                          "the key in '%s' does not match the certificate in '%s'",
                          key_file, cert_file);
    }
    return check_validity(c, cert_file, err);
}

/* Reads both files; writes the new pair to '*ret' (one reference). */
static int
creds_load(const char *cert_file, const char *key_file, struct tlscreds **ret,
           struct errmsg *err)
{
    struct tlscreds *c = calloc(1, sizeof *c);
    int r;

    if (!c) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    atomic_init(&c->refs, 1);
    if ((r = readfile(cert_file, NULL, TLSCREDS_MAX_FILE, 0, &c->cert_pem, &c->cert_len,
                      err)) < 0
        || (r = readfile(key_file, NULL, TLSCREDS_MAX_FILE, READFILE_WIPE, &c->key_pem,
                         &c->key_len, err)) < 0
        || (r = creds_parse(c, cert_file, key_file, err)) < 0) {
        creds_free(c);
        return r;
    }
    *ret = c;
    return 0;
}

static bool
creds_same_files(const struct tlscreds *a, const struct tlscreds *b)
{
    return a->cert_len == b->cert_len && a->key_len == b->key_len
           && !memcmp(a->cert_pem, b->cert_pem, a->cert_len)
           && !memcmp(a->key_pem, b->key_pem, a->key_len);
}

int
tlscreds_store_create(const char *cert_file, const char *key_file,
                      struct tlscreds_store **ret, struct errmsg *err)
{
    struct tlscreds_store *s = calloc(1, sizeof *s);
    int r;

    if (!s) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->reload_lock, NULL);
    s->cert_file = strdup(cert_file);
    s->key_file = strdup(key_file);
    if (!s->cert_file || !s->key_file) {
        r = errmsg_set(err, -ENOMEM, "out of memory");
        goto fail;
    }
    file_sig_read(cert_file, &s->cert_sig);
    file_sig_read(key_file, &s->key_sig);
    if ((r = creds_load(cert_file, key_file, &s->current, err)) < 0) {
        goto fail;
    }
    *ret = s;
    return 0;

fail:
    tlscreds_store_destroy(s);
    return r;
}

void
tlscreds_store_destroy(struct tlscreds_store *store)
{
    if (!store) {
        return;
    }
    tlscreds_release(store->current);
    pthread_mutex_destroy(&store->lock);
    pthread_mutex_destroy(&store->reload_lock);
    free(store->cert_file);
    free(store->key_file);
    free(store);
}

bool
tlscreds_store_files_changed(struct tlscreds_store *store)
{
    struct file_sig cert, key;
    bool changed;

    file_sig_read(store->cert_file, &cert);
    file_sig_read(store->key_file, &key);
    pthread_mutex_lock(&store->lock);
    changed = !file_sig_equal(&cert, &store->cert_sig)
              || !file_sig_equal(&key, &store->key_sig);
    pthread_mutex_unlock(&store->lock);
    return changed;
}

/* The signatures are taken before reading: a change that lands while we read
 * then shows at the next check instead of being missed. */
int
tlscreds_store_reload(struct tlscreds_store *store, bool *changed,
                      struct errmsg *err)
{
    struct tlscreds *fresh = NULL, *old = NULL;
    struct file_sig cert_sig, key_sig;
    bool swapped = false;
    int r;

    pthread_mutex_lock(&store->reload_lock);
    file_sig_read(store->cert_file, &cert_sig);
    file_sig_read(store->key_file, &key_sig);
    r = creds_load(store->cert_file, store->key_file, &fresh, err);
    pthread_mutex_lock(&store->lock);
    /* A refused pair is remembered too, so the periodic check does not retry
     * (and count) the same broken files every time. */
    store->cert_sig = cert_sig;
    store->key_sig = key_sig;
    if (r == 0 && !creds_same_files(fresh, store->current)) {
        old = store->current;
        store->current = fresh;
        fresh = NULL;
        swapped = true;
    }
    pthread_mutex_unlock(&store->lock);
    pthread_mutex_unlock(&store->reload_lock);
    tlscreds_release(fresh);
    tlscreds_release(old);
    if (r == 0) {
        *changed = swapped;
    }
    return r;
}

time_t
tlscreds_store_not_after(struct tlscreds_store *store)
{
    time_t t;

    pthread_mutex_lock(&store->lock);
    t = store->current->not_after;
    pthread_mutex_unlock(&store->lock);
    return t;
}

struct tlscreds *
tlscreds_acquire(struct tlscreds_store *store)
{
    struct tlscreds *c;

    pthread_mutex_lock(&store->lock);
    c = store->current;
    atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&store->lock);
    return c;
}

void
tlscreds_get(struct tlscreds *creds, gnutls_pcert_st **pcerts, unsigned *n_pcerts,
             gnutls_privkey_t *key)
{
    *pcerts = creds->pcerts;
    *n_pcerts = creds->n_pcerts;
    *key = creds->key;
}
