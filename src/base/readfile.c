/* readfile — see include/exportflows/base/readfile.h. */
#include "exportflows/base/readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exportflows/base/capbuf.h"

/* Bytes asked of one read(2). */
#define READ_CHUNK (64 * 1024)

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
open_regular(const char *file, const char *what, int *ret_fd, struct errmsg *err)
{
    struct stat st;
    int fd, r;

    fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0) {
        r = -errno;
        if (fd >= 0) {
            close(fd);
        }
        return errmsg_set(err, r, "cannot read %s%s'%s': %s", what, *what ? " " : "",
                          file, strerror(-r));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return errmsg_set(err, -EINVAL, "%s%s'%s' is %s, not a regular file", what,
                          *what ? " " : "", file, file_kind(st.st_mode));
    }
    *ret_fd = fd;
    return 0;
}

int
readfile_fd(int fd, size_t max, unsigned flags, char **ret, size_t *ret_len)
{
    struct capbuf b;
    int r = 0;

    /* One byte past the cap tells a file over it from one that fills it. */
    capbuf_init(&b, max + 1, flags & READFILE_WIPE ? CAPBUF_WIPE : 0);
    while (r == 0) {
        size_t want = capbuf_room(&b) < READ_CHUNK ? capbuf_room(&b) : READ_CHUNK;
        ssize_t n;
        char *p;

        if ((r = capbuf_reserve(&b, want, &p)) < 0) {
            break;
        }
        n = read(fd, p, want);
        if (n < 0) {
            r = errno == EINTR ? 0 : -errno;
        } else if (n == 0) {
            break;
        } else {
            capbuf_commit(&b, (size_t) n);
            r = b.len > max ? -EFBIG : 0;
        }
    }
    if (r == 0) {
        r = capbuf_take(&b, ret, ret_len);
    }
    capbuf_release(&b);
    return r;
}

int
readfile(const char *file, const char *what, size_t max, unsigned flags, char **ret,
         size_t *ret_len, struct errmsg *err)
{
    int fd = -1, r;

    what = what ? what : "";
    if ((r = open_regular(file, what, &fd, err)) < 0) {
        return r;
    }
    r = readfile_fd(fd, max, flags, ret, ret_len);
    close(fd);
    if (r == -EFBIG) {
        return errmsg_set(err, r, "%s%s'%s' is larger than %zu bytes", what,
                          *what ? " " : "", file, max);
    } else if (r < 0) {
        return errmsg_set(err, r, "cannot read %s%s'%s': %s", what, *what ? " " : "",
                          file, strerror(-r));
    }
    return 0;
}

void
readfile_free(char *text, size_t len, unsigned flags)
{
    if (text && flags & READFILE_WIPE) {
        explicit_bzero(text, len);
    }
    free(text);
}
