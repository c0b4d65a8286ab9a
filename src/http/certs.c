/* certs — development and cluster certificates for the webhook, with OpenSSL 3.
 *
 * A throw-away CA (EC P-256, CA:TRUE) signs one serving certificate (EC P-256,
 * serverAuth) whose subject alternative names cover every way a Kubernetes
 * Service is addressed.  The CA key is not kept: the CA exists only so that the
 * API server (caBundle) and test clients can verify the serving certificate, and
 * a new pair is made by running the tool again. */
#include "exportflows/http/certs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "exportflows/base/capbuf.h"
#include "exportflows/base/readfile.h"

#define CERTS_DEFAULT_DAYS 365
#define CERTS_MAX_DAYS 36500
/* Tolerates clocks a little behind the machine that made the certificate. */
#define CERTS_BACKDATE_S 300
#define CERTS_MAX_SANS 64
#define CERTS_MAX_NAME 253

/* The last OpenSSL error as text, for messages. */
static const char *
ssl_error(void)
{
    static _Thread_local char buf[256];
    unsigned long e = ERR_get_error();

    ERR_clear_error();
    if (!e) {
        return "unknown error";
    }
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

static EVP_PKEY *
key_generate(void)
{
    return EVP_EC_gen("P-256");
}

static int
set_random_serial(X509 *cert)
{
    BIGNUM *bn = BN_new();
    int ok = bn && BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
             && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));

    BN_free(bn);
    return ok ? 0 : -EIO;
}

/* Version 3, random serial, subject CN, validity from a little before now. */
static X509 *
cert_new(const char *cn, EVP_PKEY *key, unsigned days)
{
    X509 *cert = X509_new();
    X509_NAME *name;

    if (!cert || !X509_set_version(cert, X509_VERSION_3)
        || set_random_serial(cert) < 0
        || !X509_gmtime_adj(X509_getm_notBefore(cert), -CERTS_BACKDATE_S)
        || !X509_gmtime_adj(X509_getm_notAfter(cert), (long) days * 86400)
        || !X509_set_pubkey(cert, key)) {
        goto fail;
    }
    name = X509_get_subject_name(cert);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    (const unsigned char *) cn, -1, -1, 0)) {
        goto fail;
    }
    return cert;

fail:
    X509_free(cert);
    return NULL;
}

/* Adds one extension written in OpenSSL's config syntax ("critical,CA:TRUE"). */
static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) {
        return -EINVAL;
    }
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -ENOMEM;
}

static X509 *
ca_make(EVP_PKEY *ca_key, unsigned days)
{
    X509 *ca = cert_new("exportflows-ca", ca_key, days);

    if (!ca) {
        return NULL;
    }
    if (!X509_set_issuer_name(ca, X509_get_subject_name(ca))
        || add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE") < 0
        || add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign") < 0
        || add_ext(ca, ca, NID_subject_key_identifier, "hash") < 0
        || !X509_sign(ca, ca_key, EVP_sha256())) {
        X509_free(ca);
        return NULL;
    }
    return ca;
}

static bool
is_ip_address(const char *s)
{
    ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);

    ASN1_OCTET_STRING_free(ip);
    return ip != NULL;
}

/* Names go into OpenSSL's comma-separated "DNS:a,IP:b" syntax: a comma, a
 * quote, a backslash or white space in one could smuggle in another entry. */
static bool
name_is_valid(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > CERTS_MAX_NAME) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c <= ' ' || c >= 0x7f || c == ',' || c == '\\' || c == '"') {
            return false;
        }
    }
    return true;
}

/* "DNS:svc.ns.svc,DNS:svc.ns.svc.cluster.local,DNS:svc.ns,DNS:svc,IP:..." */
static int
san_string(const struct certs_request *req, char *buf, size_t size,
           struct errmsg *err)
{
    static const char *const suffixes[] = { ".svc", ".svc.cluster.local", "", NULL };
    struct capbuf sans;

    capbuf_init_fixed(&sans, buf, size, 0);
    for (size_t i = 0; suffixes[i]; i++) {
        capbuf_printf(&sans, "%sDNS:%s.%s%s", i ? "," : "", req->service,
                      req->namespace_name, suffixes[i]);
    }
    capbuf_printf(&sans, ",DNS:%s", req->service);
    for (size_t i = 0; i < req->n_extra_sans && !sans.error; i++) {
        const char *san = req->extra_sans[i];

        if (!san || !name_is_valid(san)) {
            return errmsg_set(err, -EINVAL, "invalid subject alternative name '%s'",
                              san ? san : "(null)");
        }
        capbuf_printf(&sans, ",%s:%s", is_ip_address(san) ? "IP" : "DNS", san);
    }
    if (sans.error) {
        return errmsg_set(err, -ENAMETOOLONG, "subject alternative names too long");
    }
    return 0;
}

static X509 *
serving_make(const struct certs_request *req, EVP_PKEY *key, X509 *ca,
             EVP_PKEY *ca_key, unsigned days, const char *sans)
{
    char cn[CERTS_MAX_NAME * 2 + 8];
    X509 *cert;

    snprintf(cn, sizeof cn, "%s.%s.svc", req->service, req->namespace_name);
    cert = cert_new(cn, key, days);
    if (!cert) {
        return NULL;
    }
    if (!X509_set_issuer_name(cert, X509_get_subject_name(ca))
        || add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") < 0
        || add_ext(cert, ca, NID_key_usage, "critical,digitalSignature") < 0
        || add_ext(cert, ca, NID_ext_key_usage, "serverAuth") < 0
        || add_ext(cert, ca, NID_subject_key_identifier, "hash") < 0
        || add_ext(cert, ca, NID_authority_key_identifier, "keyid:always") < 0
        || add_ext(cert, ca, NID_subject_alt_name, sans) < 0
        || !X509_sign(cert, ca_key, EVP_sha256())) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* PEM of a certificate or a private key, into a malloc()ed buffer. */
static int
pem_encode(X509 *cert, EVP_PKEY *key, char **ret, size_t *ret_len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int r = -ENOMEM;

    if (!bio) {
        return -ENOMEM;
    }
    if (cert ? !PEM_write_bio_X509(bio, cert)
             : !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
        goto out;
    }
    len = BIO_get_mem_data(bio, &data);
    *ret = malloc((size_t) len);
    if (*ret) {
        memcpy(*ret, data, (size_t) len);
        *ret_len = (size_t) len;
        r = 0;
    }
out:
    BIO_free(bio);
    return r;
}

static int
write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        data += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Writes 'dir'/'name' through a temporary file in the same directory and a
 * rename, so readers (the server's reload) see the old or the new file, whole. */
static int
write_atomic(const char *dir, const char *name, const char *data, size_t len,
             mode_t mode, struct errmsg *err)
{
    char path[4096], tmp[4096];
    int fd, r;

    if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path
        || (size_t) snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, name) >= sizeof tmp) {
        return errmsg_set(err, -ENAMETOOLONG, "path too long: '%s'", dir);
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        return errmsg_set(err, r, "cannot create '%s': %s", tmp, strerror(-r));
    }
    r = fchmod(fd, mode) < 0 ? -errno : 0;
    if (r == 0) {
        r = write_all(fd, data, len);
    }
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
    }
    if (r < 0) {
        unlink(tmp);
        return errmsg_set(err, r, "cannot write '%s': %s", path, strerror(-r));
    }
    return 0;
}

static int
write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key,
          mode_t mode, struct errmsg *err)
{
    char *pem = NULL;
    size_t len = 0;
    int r = pem_encode(cert, key, &pem, &len);

    if (r < 0) {
        return errmsg_set(err, r, "cannot encode '%s': %s", name, ssl_error());
    }
    r = write_atomic(dir, name, pem, len, mode, err);
    OPENSSL_cleanse(pem, len);
    free(pem);
    return r;
}

static int
check_request(const struct certs_request *req, struct errmsg *err)
{
    if (!req->service || !name_is_valid(req->service)
        || !req->namespace_name || !name_is_valid(req->namespace_name)) {
        return errmsg_set(err, -EINVAL, "service and namespace must be DNS names");
    }
    if (req->n_extra_sans > CERTS_MAX_SANS) {
        return errmsg_set(err, -EINVAL, "too many subject alternative names (max %d)",
                          CERTS_MAX_SANS);
    }
    if (req->days > CERTS_MAX_DAYS) {
        return errmsg_set(err, -EINVAL, "validity of %u days is too long (max %d)",
                          req->days, CERTS_MAX_DAYS);
    }
    return 0;
}

int
certs_generate(const char *out_dir, const struct certs_request *req,
               struct errmsg *err)
{
    unsigned days = req->days ? req->days : CERTS_DEFAULT_DAYS;
    char sans[8192];
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    int r;

    if ((r = check_request(req, err)) < 0 || (r = san_string(req, sans, sizeof sans, err)) < 0) {
        return r;
    }
    ca_key = key_generate();
    key = key_generate();
    if (!ca_key || !key) {
        r = errmsg_set(err, -EIO, "cannot generate a key: %s", ssl_error());
        goto out;
    }
    ca = ca_make(ca_key, days);
    cert = ca ? serving_make(req, key, ca, ca_key, days, sans) : NULL;
    if (!cert) {
        r = errmsg_set(err, -EIO, "cannot make the certificates: %s", ssl_error());
        goto out;
    }
    /* The key first: a watcher that sees the new tls.crt finds its key already. */
    if ((r = write_pem(out_dir, "tls.key", NULL, key, 0600, err)) < 0
        || (r = write_pem(out_dir, "tls.crt", cert, NULL, 0644, err)) < 0
        || (r = write_pem(out_dir, "ca.crt", ca, NULL, 0644, err)) < 0) {
        goto out;
    }
out:
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
    return r;
}

/* A CA certificate or key file is a few KiB. */
#define CERTS_MAX_PEM_FILE (1024 * 1024)

static int
read_pem(const char *file, X509 **cert, EVP_PKEY **key, struct errmsg *err)
{
    unsigned flags = cert ? 0 : READFILE_WIPE;
    char *text;
    size_t len;
    BIO *bio;
    int r = readfile(file, NULL, CERTS_MAX_PEM_FILE, flags, &text, &len, err);

    if (r < 0) {
        return r;
    }
    bio = BIO_new_mem_buf(text, (int) len);
    if (bio && cert) {
        *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    } else if (bio) {
        *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    }
    BIO_free(bio);
    readfile_free(text, len, flags);
    if (!bio) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    if (cert ? !*cert : !*key) {
        return errmsg_set(err, -EINVAL, "'%s' holds no PEM %s: %s", file,
                          cert ? "certificate" : "private key", ssl_error());
    }
    return 0;
}

static time_t
asn1_to_time(const ASN1_TIME *t)
{
    struct tm tm;

    if (!ASN1_TIME_to_tm(t, &tm)) {
        return (time_t) -1;
    }
    return timegm(&tm);
}

int
certs_check_pair(const char *cert_file, const char *key_file, time_t *not_after,
                 struct errmsg *err)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    time_t now = time(NULL), start, end;
    int r;

    if ((r = read_pem(cert_file, &cert, NULL, err)) < 0
        || (r = read_pem(key_file, NULL, &key, err)) < 0) {
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        r = errmsg_set(err, -EINVAL, "the key in '%s' does not match the certificate in '%s'",
                       key_file, cert_file);
        goto out;
    }
    start = asn1_to_time(X509_get0_notBefore(cert));
    end = asn1_to_time(X509_get0_notAfter(cert));
    if (start == (time_t) -1 || end == (time_t) -1) {
        r = errmsg_set(err, -EINVAL, "'%s' has an unreadable validity period", cert_file);
    } else if (now < start) {
        r = errmsg_set(err, -EINVAL, "'%s' is not valid yet", cert_file);
    } else if (now > end) {
        r = errmsg_set(err, -EINVAL, "'%s' has expired", cert_file);
    } else if (not_after) {
        *not_after = end;
    }
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return r;
}
