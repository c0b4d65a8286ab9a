/* tlscreds — the serving certificate and key of the HTTPS server, re-readable.
 *
 * Private to httpserver.  A store holds the pair currently in use; each TLS
 * handshake takes a counted reference to it (tlscreds_acquire) and gives it back
 * when its connection closes, so a reload swaps the pointer under a lock and the
 * old pair is freed only when its last connection is gone.  GnuTLS keeps using
 * the certificate and key handed to it for the whole session, which is why a
 * reload can never free them under a running handshake. */
#ifndef EXPORTFLOWS_TLSCREDS_H
#define EXPORTFLOWS_TLSCREDS_H

#include <stdbool.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "exportflows/base/errmsg.h"

struct tlscreds;
struct tlscreds_store;

/* Reads and checks the pair.  Caller destroys '*ret' with tlscreds_store_destroy()
 * (after every acquired reference was released).  -errno and a message when the
 * files cannot be read, do not parse, do not match or are out of validity. */
int tlscreds_store_create(const char *cert_file, const char *key_file,
                          struct tlscreds_store **ret, struct errmsg *err);

/* Accepts NULL. */
void tlscreds_store_destroy(struct tlscreds_store *store);

/* Re-reads the files.  Writes '*changed' true when a new pair replaced the old,
 * false when the contents are the same as loaded.  On failure (-errno and a
 * message) the loaded pair stays. */
int tlscreds_store_reload(struct tlscreds_store *store, bool *changed,
                          struct errmsg *err);

/* Whether the files look different (inode, size, time) from when they were last
 * read — a cheap test for the periodic check; a true answer means "reload". */
bool tlscreds_store_files_changed(struct tlscreds_store *store);

/* Not-after of the pair in use. */
time_t tlscreds_store_not_after(struct tlscreds_store *store);

/* A counted reference to the pair in use; never NULL.  Release it with
 * tlscreds_release(), which accepts NULL. */
struct tlscreds *tlscreds_acquire(struct tlscreds_store *store);
void tlscreds_release(struct tlscreds *creds);

/* Borrowed from 'creds', valid while the reference is held; in the form GnuTLS's
 * certificate retrieve callback returns them. */
void tlscreds_get(struct tlscreds *creds, gnutls_pcert_st **pcerts,
                  unsigned *n_pcerts, gnutls_privkey_t *key);

#endif
