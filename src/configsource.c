/* configsource — the applier's config source interface and its file
 * implementation (inotify on the file's directory, which also sees kubelet's
 * atomic "..data" symlink swap of ConfigMap volumes).  See configsource.h. */
#include "exportflows/configsource.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "exportflows/readfile.h"

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

int
configsource_run(struct configsource *source, uint64_t now_ms, struct errmsg *err)
{
    return source->class->run(source, now_ms, err);
}

void
configsource_wait(const struct configsource *source, uint64_t now_ms,
                  struct pollfd *pfd, int *timeout_ms)
{
    source->class->wait(source, now_ms, pfd, timeout_ms);
}

const struct flowconfig *
configsource_current(const struct configsource *source)
{
    return source->class->current(source);
}

const char *
configsource_describe(const struct configsource *source)
{
    return source->class->describe(source);
}

void
configsource_destroy(struct configsource *source)
{
    if (source) {
        source->class->destroy(source);
    }
}

/* ---- file ---- */

struct file_source {
    struct configsource up;
    char *path;
    char *dir;
    const char *name;           /* the file's name in 'dir', points into 'path' */
    char description[600];
    unsigned recheck_ms;
    int inotify_fd;
    int watch;                  /* -1 until the directory could be watched */
    uint64_t reload_at;         /* 0: no reload scheduled */
    uint64_t next_recheck;

    /* What was last seen, so that each distinct content or error is acted on
     * (and reported) once. */
    char *content;              /* NULL when the last read failed */
    size_t content_len;
    int last_errno;

    bool has_config;
    struct flowconfig config;
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
    free(fs->content);
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

/* Accepts 'text' (taken) as the last seen content and parses it. */
static int
file_accept(struct file_source *fs, char *text, size_t len, struct errmsg *err)
{
    struct flowconfig config;
    int rc;

    free(fs->content);
    fs->content = text;
    fs->content_len = len;
    fs->last_errno = 0;
    rc = flowconfig_parse(text, len, &config, err);
    if (rc < 0) {
        return errmsg_prefix(err, rc, "refused %s", fs->description);
    }
    fs->config = config;
    fs->has_config = true;
    return CONFIGSOURCE_CHANGED;
}

static int
file_reload(struct file_source *fs, struct errmsg *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = readfile(fs->path, NULL, FLOWCONFIG_MAX_BYTES, 0, &text, &len, NULL);

    if (rc < 0) {
        if (rc == fs->last_errno) {
            return CONFIGSOURCE_UNCHANGED;      /* already reported */
        }
        free(fs->content);
        fs->content = NULL;
        fs->last_errno = rc;
        if (rc == -EFBIG) {
            return errmsg_set(err, rc, "refused %s: larger than %d bytes",
                              fs->description, FLOWCONFIG_MAX_BYTES);
        }
        return errmsg_set(err, rc, "cannot read %s: %s", fs->description,
                          strerror(-rc));
    }
    if (fs->content && len == fs->content_len && !memcmp(text, fs->content, len)) {
        free(text);
        return CONFIGSOURCE_UNCHANGED;
    }
    return file_accept(fs, text, len, err);
}

static int
file_run(struct configsource *source, uint64_t now, struct errmsg *err)
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
        return CONFIGSOURCE_UNCHANGED;
    }
    fs->reload_at = 0;
    return file_reload(fs, err);
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

static const struct flowconfig *
file_current(const struct configsource *source)
{
    const struct file_source *fs = file_source_cast(source);

    return fs->has_config ? &fs->config : NULL;
}

static const char *
file_describe(const struct configsource *source)
{
    return file_source_cast(source)->description;
}

static const struct configsource_class file_class = {
    .kind = "file",
    .destroy = file_destroy,
    .run = file_run,
    .wait = file_wait,
    .current = file_current,
    .describe = file_describe,
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
    fs->up.class = &file_class;
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
    snprintf(fs->description, sizeof fs->description, "config file '%s'", path);
    *ret = &fs->up;
    fs = NULL;
out:
    if (fs) {
        file_destroy(&fs->up);
    }
    return rc;
}
