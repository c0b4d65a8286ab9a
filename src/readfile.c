/* readfile — see src/readfile.h. */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
readfile_capped(const char *file, size_t max, char **ret, size_t *ret_len,
                struct errmsg *err)
{
    char *buf = NULL;
    size_t len = 0;
    int fd, r = 0;

    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        return errmsg_set(err, r, "cannot open '%s': %s", file, strerror(-r));
    }
    buf = malloc(max + 1);
    if (!buf) {
        r = errmsg_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r = -errno;
            errmsg_set(err, r, "cannot read '%s': %s", file, strerror(-r));
            goto out;
        }
        if (n == 0) {
            break;
        }
        len += (size_t) n;
        if (len > max) {
            r = errmsg_set(err, -EFBIG, "'%s' is larger than %zu bytes", file, max);
            goto out;
        }
    }
    buf[len] = '\0';
    *ret = buf;
    *ret_len = len;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return r;
}
