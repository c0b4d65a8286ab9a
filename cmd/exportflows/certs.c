/* exportflows certs — writes a CA and the webhook's serving certificate and key
 * (certs_generate()) into a directory, creating it (mode 0700) when missing. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>

#include "commands.h"
#include "exportflows/certs.h"
#include "exportflows/errmsg.h"

static const char certs_synopsis[] =
    PROGRAM " certs --out DIR [--service NAME] [--namespace NAME] [--san X]... [--days N]";

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
        { "out", OPTION_STRING, &out, "DIR", "directory to write into (required)", 0, 0 },
        { "service", OPTION_STRING, &service, "NAME",
          "the webhook Service (default: exportflows-webhook)", 0, 0 },
        { "namespace", OPTION_STRING, &namespace_name, "NAME",
          "its namespace (default: exportflows)", 0, 0 },
        { "san", OPTION_LIST, &sans, "X", "another DNS name or IP address (repeatable)", 0, 0 },
        { "days", OPTION_UINT, &days, "N", "validity in days (default: 365)", 1, 36500 },
        { .name = NULL },
    };
    struct certs_request req;
    struct errmsg err;
    int first = 0;
    int status;

    status = cmd_parse_options("certs", certs_synopsis, certs_description, specs,
                               argc, argv, &first);
    if (status >= 0) {
        return status;
    }
    if (first < argc) {
        return cmd_usage_error("certs", "unexpected argument '%s'", argv[first]);
    }
    if (!out || !*out) {
        return cmd_usage_error("certs", "--out DIR is required");
    }
    req = (struct certs_request) {
        .service = service, .namespace_name = namespace_name,
        .extra_sans = sans.items, .n_extra_sans = sans.n, .days = (unsigned) days,
    };
    if (make_dirs(out, &err) || certs_generate(out, &req, &err)) {
        fprintf(stderr, "%s certs: %s\n", PROGRAM, err.text);
        return EXIT_INVALID;
    }
    printf("wrote %s/ca.crt, %s/tls.crt and %s/tls.key\n", out, out, out);
    return EXIT_OK;
}
