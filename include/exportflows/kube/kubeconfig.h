/* kubeconfig — where the Kubernetes API is and how to authenticate to it.
 *
 * A 'struct kubeconfig' comes from one of two places:
 *   - a kubeconfig file (the YAML that kubectl reads): the current context, or a
 *     named one, picks a cluster (server, certificate-authority[-data],
 *     insecure-skip-tls-verify) and a user (token, tokenFile,
 *     client-certificate[-data], client-key[-data]);
 *   - the in-cluster service account: KUBERNETES_SERVICE_HOST/PORT and the files
 *     under /var/run/secrets/kubernetes.io/serviceaccount/ (token, ca.crt,
 *     namespace).
 * Certificates and keys, whether given inline (base64 "-data") or as file names, are
 * read into memory when the configuration is loaded and handed to libcurl as blobs:
 * key material is never written to disk.  Relative file names in a kubeconfig are
 * relative to the kubeconfig's directory, as kubectl does.
 *
 * The bearer token is the one mutable part: a token file (in-cluster, or a
 * kubeconfig's tokenFile) rotates, so kubeconfig_token() re-reads it once the copy
 * in memory is older than the refresh interval (60 s by default).
 *
 * Threading: after loading, everything is read-only except the token cache, which
 * has its own lock, so one 'struct kubeconfig' may be shared by any number of
 * clients and threads.  It must outlive every kube_client, kubewatch and lease made
 * from it.
 *
 * Unsupported on purpose (refused with a message): exec credential plugins and
 * auth-provider entries, username/password. */
#ifndef EXPORTFLOWS_KUBECONFIG_H
#define EXPORTFLOWS_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "exportflows/base/errmsg.h"

#define KUBECONFIG_INCLUSTER_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBECONFIG_TOKEN_REFRESH_MS 60000u

/* Largest kubeconfig, certificate, key or token file read. */
#define KUBECONFIG_MAX_FILE (1024u * 1024)

struct kubeconfig;

/* Where the in-cluster configuration comes from.  NULL members take the defaults:
 * KUBECONFIG_INCLUSTER_DIR/{token,ca.crt,namespace} and the environment variables
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.  Tests override them. */
struct kubeconfig_incluster {
    const char *token_file;
    const char *ca_file;
    const char *namespace_file;
    const char *host;
    const char *port;
};

/* Loads the kubeconfig file 'path' and resolves 'context' (NULL: the file's
 * current-context).  Caller destroys '*ret' with kubeconfig_destroy().  -ENOENT or
 * another -errno when a file cannot be read, -EINVAL when the content is invalid
 * or incomplete, -ENOTSUP for credential plugins; a message in 'err'. */
int kubeconfig_load_file(const char *path, const char *context,
                         struct kubeconfig **ret, struct errmsg *err);

/* Builds the in-cluster configuration ('paths' may be NULL for all defaults).  A
 * missing namespace file means namespace "default".  The token file must exist
 * now; it is re-read later as it rotates.  Caller destroys '*ret'. */
int kubeconfig_load_incluster(const struct kubeconfig_incluster *paths,
                              struct kubeconfig **ret, struct errmsg *err);

/* What the programs use: 'flag' (the --kubeconfig value) when not NULL or empty;
 * otherwise the first entry of $KUBECONFIG; otherwise the in-cluster configuration
 * when KUBERNETES_SERVICE_HOST is set; otherwise -ENOENT with a message that says
 * so.  Caller destroys '*ret'. */
int kubeconfig_load_default(const char *flag, struct kubeconfig **ret,
                            struct errmsg *err);

/* Frees everything (and wipes the key and token from memory); accepts NULL. */
void kubeconfig_destroy(struct kubeconfig *cfg);

/* The API server's base URL without a trailing slash ("https://10.0.0.1:6443"). */
const char *kubeconfig_server(const struct kubeconfig *cfg);

/* The context's namespace, or the in-cluster namespace file's, or "default". */
const char *kubeconfig_namespace(const struct kubeconfig *cfg);

/* True when the cluster entry says insecure-skip-tls-verify: true. */
bool kubeconfig_insecure(const struct kubeconfig *cfg);

/* A PEM blob held by the configuration (borrowed; 'data' NULL when absent). */
struct kubeconfig_pem {
    const void *data;
    size_t len;
};

/* The CA bundle, the client certificate and the client key. */
struct kubeconfig_pem kubeconfig_ca(const struct kubeconfig *cfg);
struct kubeconfig_pem kubeconfig_client_cert(const struct kubeconfig *cfg);
struct kubeconfig_pem kubeconfig_client_key(const struct kubeconfig *cfg);

/* The bearer token to send, re-reading the token file first when the copy in
 * memory is older than the refresh interval or 'reload' is true (after a 401).
 * Writes a new string to '*ret' (caller free()s it) or NULL when the configuration
 * has no token; when re-reading fails but an older token is known, that one is
 * returned.  Thread-safe.  -errno and a message when no token can be had. */
int kubeconfig_token(struct kubeconfig *cfg, bool reload, char **ret,
                     struct errmsg *err);

/* Changes the token refresh interval (tests use small values).  Thread-safe. */
void kubeconfig_set_token_refresh(struct kubeconfig *cfg, unsigned ms);

#endif
