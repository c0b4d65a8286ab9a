/* configsource_file — the applier's config from a file (the "file" kind of
 * struct configsource), for --config-file and for a ConfigMap mounted as a
 * volume.
 *
 * The directory holding the file is watched with inotify (not the file: it may
 * be replaced by a rename or a symlink swap, which a watch on the old inode
 * would never see).  Kubelet updates a ConfigMap volume by writing a new
 * timestamped directory and atomically renaming the "..data" symlink, which
 * that watch sees.  The file is also reread every 'recheck_ms' in case an event
 * was missed or the directory appeared late.
 *
 * The source only says what it read: the text, or why there is none ("cannot
 * read config file 'F': ...", or larger than FLOWCONFIG_MAX_BYTES); the policy
 * (same text, bad text, no text) is configsource.h's. */
#ifndef EXPORTFLOWS_CONFIGSOURCE_FILE_H
#define EXPORTFLOWS_CONFIGSOURCE_FILE_H

#include "exportflows/ovs/configsource.h"
#include "exportflows/base/errmsg.h"

/* A source reading the file 'path' (copied).  The file is read by the first
 * configsource_run(); it may not exist yet.  'recheck_ms' 0: 10000.  Caller
 * destroys '*ret' with configsource_destroy().  -errno with a message in 'err'. */
int configsource_file_create(const char *path, unsigned recheck_ms,
                             struct configsource **ret, struct errmsg *err);

#endif
