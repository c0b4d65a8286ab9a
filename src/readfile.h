/* readfile — reads a small file whole into memory, with a size cap.
 *
 * Private to the library (tlscreds, httpserver): certificate, key and CA files
 * are a few KiB, and the cap keeps a wrong path (a log, a device) from being
 * read whole. */
#ifndef EXPORTFLOWS_READFILE_H
#define EXPORTFLOWS_READFILE_H

#include <stddef.h>

#include "exportflows/errmsg.h"

/* Reads all of 'file' (at most 'max' bytes) into a malloc()ed, NUL-terminated
 * buffer the caller frees; writes it to '*ret' and its length (without the NUL)
 * to '*ret_len'.  Never waits on the file: only a regular file is read (a FIFO,
 * a device or a directory put in its place is refused at once), so a server
 * thread that re-reads its certificate cannot be stalled by one.  -errno and a
 * message ("cannot open 'F': ...", "cannot read 'F': ...") on failure; -EINVAL
 * and "'F' is a FIFO, not a regular file" for other kinds of file; -EFBIG and
 * "'F' is larger than MAX bytes" when the file passes the cap. */
int readfile_capped(const char *file, size_t max, char **ret, size_t *ret_len,
                    struct errmsg *err);

#endif
