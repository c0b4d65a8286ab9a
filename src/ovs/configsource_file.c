/* configsource_file — the applier's config from a file watched with inotify on
 * its directory, which also sees kubelet's atomic "..data" symlink swap of
 * ConfigMap volumes.  See configsource_file.h. */
#include "exportflows/ovs/configsource_file.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "exportflows/base/readfile.h"

/* Events come in bursts (a write then a close, kubelet's several renames).  An
 * event that says the content is complete -- the config file or kubelet's "..data"
 * symlink renamed into place, or the file closed after writing -- reloads at once;
 * any other event reloads once the burst has been quiet this long. */
#define SETTLE_MS 10

/* What the inotify events drained in one go ask for. */
enum file_events {
    FILE_EVENTS_NONE,
    FILE_EVENTS_SETTLE,         /* something changed in the directory */
    FILE_EVENTS_COMPLETE,       /* the content is complete: read it now */
};

struct file_source {
    struct configsource up;
    char *path;
    char *dir;
    const char *name;           /* the file's name in 'dir', points into 'path' */
    unsigned recheck_ms;
    int inotify_fd;
    int watch;                  /* -1 until the directory could be watched */
    uint64_t reload_at;         /* 0: no reload scheduled */
    uint64_t next_recheck;
};

static const struct configsource_class file_class;

static struct file_source *
file_source_cast(const struct configsource *source)
{
    return (struct file_source *) source;
}

static void
file_destroy(struct configsource *source)
{
    struct file_source *fs = file_source_cast(source);

    if (fs->inotify_fd >= 0) {
        close(fs->inotify_fd);
    }
    free(fs->path);
    free(fs->dir);
    free(fs);
}

/* Watches the directory (not the file: the file may be replaced by a rename or a
 * symlink swap, which a watch on the old inode would never see). */
static void
file_try_watch(struct file_source *fs)
{
    if (fs->watch >= 0) {
        return;
    }
    fs->watch = inotify_add_watch(fs->inotify_fd, fs->dir,
                                  IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO
                                  | IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF
                                  | IN_MOVE_SELF | IN_ONLYDIR);
}

/* True when 'ev' says that the watched content was just completed: kubelet's
 * "..data" swap, a rename of the file into place, or the end of a write. */
static bool
file_event_completes(const struct file_source *fs, const struct inotify_event *ev)
{
    return ev->len && (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE))
           && (!strcmp(ev->name, "..data") || !strcmp(ev->name, fs->name));
}

/* Drains the inotify queue.  Any event in the directory asks for a reload: the
 * content comparison decides what changed. */
static enum file_events
file_drain_events(struct file_source *fs)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    enum file_events result = FILE_EVENTS_NONE;

    for (;;) {
        ssize_t n = read(fs->inotify_fd, buf, sizeof buf);

        if (n <= 0) {
            break;
        }
        if (result == FILE_EVENTS_NONE) {
            result = FILE_EVENTS_SETTLE;
        }
        for (ssize_t off = 0; off < n; ) {
            const struct inotify_event *ev = (const void *) (buf + off);
            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                fs->watch = -1;         /* directory gone: re-watch on recheck */
            }
            if (file_event_completes(fs, ev)) {
                result = FILE_EVENTS_COMPLETE;
            }
            off += (ssize_t) (sizeof *ev + ev->len);
        }
    }
    return result;
}

/* Reads the file: its text, or no text and why. */
static enum configsource_seen
file_reload(struct file_source *fs, char **ret_text, size_t *ret_len, int *ret_code,
            struct errmsg *err)
{
    int rc = readfile(fs->path, NULL, FLOWCONFIG_MAX_BYTES, 0, ret_text, ret_len, NULL);

    if (rc == 0) {
        return CONFIGSOURCE_SEEN_TEXT;
    }
    *ret_code = rc;
    if (rc == -EFBIG) {
        errmsg_set(err, rc, "refused %s: larger than %d bytes", fs->up.description,
                   FLOWCONFIG_MAX_BYTES);
    } else {
        errmsg_set(err, rc, "cannot read %s: %s", fs->up.description, strerror(-rc));
    }
    return CONFIGSOURCE_SEEN_NO_TEXT;
}

static enum configsource_seen
file_poll(struct configsource *source, uint64_t now, char **ret_text, size_t *ret_len,
          int *ret_code, struct errmsg *err)
{
    struct file_source *fs = file_source_cast(source);

    switch (file_drain_events(fs)) {
    case FILE_EVENTS_COMPLETE:
        fs->reload_at = now;
        break;
    case FILE_EVENTS_SETTLE:
        if (!fs->reload_at) {
            fs->reload_at = now + SETTLE_MS;
        }
        break;
    case FILE_EVENTS_NONE:
        break;
    }
    if (now >= fs->next_recheck) {
        file_try_watch(fs);
        fs->next_recheck = now + fs->recheck_ms;
        fs->reload_at = now;
    }
    if (!fs->reload_at || now < fs->reload_at) {
        return CONFIGSOURCE_SEEN_NOTHING;
    }
    fs->reload_at = 0;
    return file_reload(fs, ret_text, ret_len, ret_code, err);
}

static void
lower_timeout(int *timeout_ms, uint64_t now, uint64_t deadline)
{
    int t = deadline <= now ? 0 : (deadline - now > 86400000 ? 86400000
                                   : (int) (deadline - now));

    if (*timeout_ms < 0 || t < *timeout_ms) {
        *timeout_ms = t;
    }
}

static void
file_wait(const struct configsource *source, uint64_t now, struct pollfd *pfd,
          int *timeout_ms)
{
    const struct file_source *fs = file_source_cast(source);

    pfd->fd = fs->inotify_fd;
    pfd->events = POLLIN;
    pfd->revents = 0;
    lower_timeout(timeout_ms, now, fs->reload_at ? fs->reload_at : fs->next_recheck);
}

static const struct configsource_class file_class = {
    .kind = "file",
    .destroy = file_destroy,
    .poll = file_poll,
    .wait = file_wait,
};

static char *
dir_of(const char *path)
{
    char *copy = strdup(path);
    char *dir;

    if (!copy) {
        return NULL;
    }
    dir = strdup(dirname(copy));
    free(copy);
    return dir;
}

int
configsource_file_create(const char *path, unsigned recheck_ms,
                         struct configsource **ret, struct errmsg *err)
{
    struct file_source *fs = calloc(1, sizeof *fs);
    int rc = 0;

    if (!fs) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    configsource_init(&fs->up, &file_class, "config file '%s'", path);
    fs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    fs->watch = -1;
    fs->recheck_ms = recheck_ms ? recheck_ms : 10000;
    if (fs->inotify_fd < 0) {
        rc = errmsg_set(err, -errno, "cannot watch '%s': %s", path, strerror(errno));
        goto out;
    }
    fs->path = strdup(path);
    fs->dir = dir_of(path);
    if (!fs->path || !fs->dir) {
        rc = errmsg_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    fs->name = strrchr(fs->path, '/') ? strrchr(fs->path, '/') + 1 : fs->path;
    *ret = &fs->up;
    fs = NULL;
out:
    if (fs) {
        file_destroy(&fs->up);
    }
    return rc;
}
