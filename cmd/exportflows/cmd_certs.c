/* exportflows certs — writes a CA and the webhook's serving certificate and key
 * (certs_generate()) into a directory, creating it (mode 0700) when missing. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>

#include "commands.h"
#include "exportflows/http/certs.h"
#include "exportflows/base/errmsg.h"

#define COMMAND PROGRAM " certs"

static const char certs_description[] =
    "\nWrites DIR/ca.crt (a new self-signed CA), DIR/tls.crt (a serving certificate\n"
    "signed by it, for NAME.NAMESPACE.svc and NAME.NAMESPACE.svc.cluster.local plus\n"
    "every --san, DNS name or IP address) and DIR/tls.key (mode 0600).  DIR and\n"
    "missing parents are created with mode 0700.\n";

/* Creates 'path' if missing; a directory that exists already is fine. */
static int
make_dir(const char *path, struct errmsg *err)
{
    struct stat st;

    if (!mkdir(path, 0700)) {
        return 0;
    }
    if (errno != EEXIST) {
        return errmsg_set(err, -errno, "cannot create '%s': %s", path, strerror(errno));
    }
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
        return errmsg_set(err, -ENOTDIR, "'%s' exists and is not a directory", path);
    }
    return 0;
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int
make_dirs(const char *path, struct errmsg *err)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len >= sizeof buf) {
        return errmsg_set(err, -ENAMETOOLONG, "'%s': name too long", path);
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i < len; i++) {
        if (buf[i] == '/' && buf[i - 1] != '/') {
            int r;

            buf[i] = '\0';
            r = make_dir(buf, err);
            buf[i] = '/';
            if (r) {
                return r;
            }
        }
    }
    return make_dir(buf, err);
}

int
cmd_certs(int argc, char **argv)
{
    const char *out = NULL;
    const char *service = "exportflows-webhook";
    const char *namespace_name = "exportflows";
    struct option_list sans = { .n = 0 };
    uint64_t days = 365;
    const struct option_spec specs[] = {
        OPT_STRING("out", &out, "DIR", "directory to write into (required)"),
        OPT_STRING("service", &service, "NAME",
                   "the webhook Service (default: exportflows-webhook)"),
        OPT_STRING("namespace", &namespace_name, "NAME", "its namespace (default: exportflows)"),
        OPT_LIST("san", &sans, "X", "another DNS name or IP address (repeatable)"),
        OPT_UINT("days", &days, "N", 1, 36500, "validity in days (default: 365)"),
        OPT_END,
    };
    const struct options_program program = {
        .name = COMMAND,
        .synopsis = COMMAND " --out DIR [--service NAME] [--namespace NAME] [--san X]... "
                    "[--days N]",
        .description = certs_description,
        .specs = specs,
    };
    struct certs_request req;
    struct errmsg err;
    int first;
    int status = options_run(&program, argc, argv, &first);

    if (status != OPTIONS_GO_ON) {
        return status;
    }
    if (!out || !*out) {
        return options_usage_error(COMMAND, "--out DIR is required");
    }
    req = (struct certs_request) {
        .service = service, .namespace_name = namespace_name,
        .extra_sans = sans.items, .n_extra_sans = sans.n, .days = (unsigned) days,
    };
    if (make_dirs(out, &err) || certs_generate(out, &req, &err)) {
        fprintf(stderr, "%s: %s\n", COMMAND, err.text);
        return EXIT_INVALID;
    }
    printf("wrote %s/ca.crt, %s/tls.crt and %s/tls.key\n", out, out, out);
    return EXIT_OK;
}
