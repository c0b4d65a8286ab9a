/* readfile — see src/readfile.h. */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a file that is not a regular one is, for the message. */
static const char *
file_kind(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return "a directory";
    case S_IFIFO:
        return "a FIFO";
    case S_IFSOCK:
        return "a socket";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    default:
        return "of an unknown kind";
    }
}

/* Opens 'file' for reading without ever waiting: O_NONBLOCK makes open() of a
 * FIFO with no writer return at once (a plain open() would wait for a writer
 * forever), and anything but a regular file is then refused. */
static int
open_regular(const char *file, int *ret_fd, struct errmsg *err)
{
    struct stat st;
    int fd, r;

    fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        return errmsg_set(err, r, "cannot open '%s': %s", file, strerror(-r));
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        close(fd);
        return errmsg_set(err, r, "cannot open '%s': %s", file, strerror(-r));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return errmsg_set(err, -EINVAL, "'%s' is %s, not a regular file", file,
                          file_kind(st.st_mode));
    }
    *ret_fd = fd;
    return 0;
}

int
readfile_capped(const char *file, size_t max, char **ret, size_t *ret_len,
                struct errmsg *err)
{
    char *buf = NULL;
    size_t len = 0;
    int fd = -1, r = 0;

    if ((r = open_regular(file, &fd, err)) < 0) {
        return r;
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
