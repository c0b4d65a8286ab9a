/* readfile — reads a small file whole into memory, with a size cap.
 *
 * The one reader of whole files: kubeconfig and its token, CA, certificate and
 * key files, TLS credentials, the client CA bundle, the config file, and
 * manifests.  The cap keeps a wrong path (a log, a device) from being read
 * whole; the bytes gather in a capbuf.  With READFILE_WIPE (keys, tokens)
 * every copy made on the way is zeroed, and a failure leaves nothing behind. */
#ifndef EXPORTFLOWS_READFILE_H
#define EXPORTFLOWS_READFILE_H

#include <stddef.h>

#include "exportflows/base/errmsg.h"

/* The bytes are secret: zero them on failure and on readfile_free(). */
#define READFILE_WIPE (1u << 0)

/* Reads 'file' (at most 'max' bytes) into a malloc()ed, NUL-terminated buffer
 * written to '*ret' (caller frees it with readfile_free()) with its length
 * (without the NUL) in '*ret_len'.  Never waits on the file: only a regular file
 * is read (a FIFO, a device or a directory put in its place is refused at once),
 * so a thread that re-reads its certificate cannot be stalled by one.  'what'
 * names the file in messages ("token file" gives "token file 'F'"), or NULL.
 * -errno with "cannot read [WHAT ]'F': ..."; -EINVAL with "[WHAT ]'F' is a FIFO,
 * not a regular file" for other kinds of file; -EFBIG with "[WHAT ]'F' is larger
 * than MAX bytes" past the cap. */
int readfile(const char *file, const char *what, size_t max, unsigned flags, char **ret,
             size_t *ret_len, struct errmsg *err);

/* Reads the open 'fd' (a pipe too: standard input) to its end, as readfile()
 * does, without a message: -errno from read(2), -EFBIG past 'max', -ENOMEM. */
int readfile_fd(int fd, size_t max, unsigned flags, char **ret, size_t *ret_len);

/* Frees what readfile() returned, zeroing its 'len' bytes first with
 * READFILE_WIPE in 'flags'.  Accepts NULL. */
void readfile_free(char *text, size_t len, unsigned flags);

#endif
