/* tlspolicy — which TLS versions and cipher suites the HTTPS server accepts.
 *
 * Set in Kubernetes' own terms, so that an OpenShift TLS security profile
 * (minTLSVersion, ciphers) maps onto it the way it maps onto the API server's
 * flags: --tls-min-version VersionTLS12|VersionTLS13 and --tls-cipher-suites
 * with IANA names ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,...").  The result is a
 * GnuTLS priority string for the server (libmicrohttpd speaks GnuTLS).
 *
 * Whatever the flags say, TLS 1.2 only ever offers ECDHE key exchange with an
 * AEAD cipher (AES-GCM, ChaCha20-Poly1305): no static RSA, no CBC, no SHA-1 MAC,
 * no finite-field DHE.  Naming any other suite is an error, not a silent drop.
 *
 * GnuTLS does not take a list of suites: it pairs every cipher allowed with every
 * key exchange allowed, and keeps one cipher list for TLS 1.2 and 1.3.  So
 *   - the ciphers of every suite named (of either version) are TLS 1.3's ciphers;
 *   - a TLS 1.2 list that is not every pairing of its key exchanges and ciphers
 *     (naming ECDHE_RSA with AES-128-GCM and ECDHE_ECDSA with AES-256-GCM, say)
 *     would enable suites that were not named, and is refused;
 *   - a list with only TLS 1.3 names turns TLS 1.2 off, as it leaves a Go
 *     server without a TLS 1.2 suite. */
#ifndef EXPORTFLOWS_TLSPOLICY_H
#define EXPORTFLOWS_TLSPOLICY_H

#include "exportflows/base/errmsg.h"

#define TLSPOLICY_PRIORITY_MAX 512

struct tlspolicy {
    char priority[TLSPOLICY_PRIORITY_MAX];  /* for MHD_OPTION_HTTPS_PRIORITIES */
};

/* TLS 1.2 and 1.3, every ECDHE + AEAD suite. */
void tlspolicy_default(struct tlspolicy *policy);

/* Parses the two flags' values; NULL or "" leaves that part at the default.
 * Writes '*ret' only on success.  -EINVAL and a message naming the value at
 * fault: an unknown version or suite, a version below TLS 1.2, a suite that is
 * not ECDHE with AEAD, a list GnuTLS cannot express exactly, or one that leaves
 * no suite at all. */
int tlspolicy_parse(const char *min_version, const char *cipher_suites,
                    struct tlspolicy *ret, struct errmsg *err);

#endif
