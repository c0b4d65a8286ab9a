/* certs — development and cluster certificates for the webhook, with OpenSSL.
 *
 * certs_generate() writes into a directory a self-signed CA ("ca.crt"), and a
 * serving certificate ("tls.crt") and its key ("tls.key", mode 0600) signed by it,
 * with the subject alternative names a Kubernetes Service needs:
 * <service>.<namespace>.svc and <service>.<namespace>.svc.cluster.local, plus any
 * extra DNS names or IP addresses.  Each file is written to a temporary name and
 * renamed, so a reader never sees half a file. */
#ifndef EXPORTFLOWS_CERTS_H
#define EXPORTFLOWS_CERTS_H

#include <stddef.h>
#include <time.h>

#include "exportflows/base/errmsg.h"

struct certs_request {
    const char *service;            /* "exportflows-webhook" */
    const char *namespace_name;     /* "exportflows" */
    const char *const *extra_sans;  /* "127.0.0.1", "localhost", ... (IP or DNS) */
    size_t n_extra_sans;
    unsigned days;                  /* validity; 0: 365 */
};

int certs_generate(const char *out_dir, const struct certs_request *req,
                   struct errmsg *err);

/* Checks that 'cert_file' holds a certificate whose public key matches the private
 * key in 'key_file' and that is valid now; writes its not-after time. */
int certs_check_pair(const char *cert_file, const char *key_file,
                     time_t *not_after, struct errmsg *err);

#endif
