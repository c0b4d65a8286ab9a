/* fuzz_kubeconfig — a kubeconfig file (--kubeconfig, $KUBECONFIG): YAML from
 * whoever wrote it, read by both programs.
 *
 * The input is written to a kubeconfig in a private directory that also holds
 * the files the seeds name relatively (pki/ca.crt, pki/client.crt,
 * pki/client.key, token), then loaded with its current-context, and what a
 * client asks of a loaded configuration is asked.  Inputs that name /dev,
 * /proc or /sys, or hold a backslash (a YAML escape could spell those), are
 * skipped: a kubeconfig names files, and reading a terminal or a FIFO would
 * only hang the fuzzer.  Checks, besides the sanitizers: a load either fails
 * with a message or yields a server URL. */
#include <errno.h>
#include <sys/stat.h>

#include "exportflows/base/errmsg.h"
#include "exportflows/kube/kubeconfig.h"
#include "fuzz.h"
#include "testutil.h"

static char *dir, *path;

static void
cleanup(void)
{
    testutil_rmtree(dir);
    free(dir);
    free(path);
}

static void
put(const char *name, const char *text)
{
    char *file;

    FUZZ_CHECK(asprintf(&file, "%s/%s", dir, name) > 0, "out of memory");
    FUZZ_CHECK(testutil_write_text(file, text) == 0, "cannot write %s", file);
    free(file);
}

static void
setup(void)
{
    char *pki;

    dir = testutil_tempdir("fuzz-kubeconfig");
    FUZZ_CHECK(dir && asprintf(&pki, "%s/pki", dir) > 0 && !mkdir(pki, 0700), "setup");
    free(pki);
    put("pki/ca.crt", "-----BEGIN CERTIFICATE-----\nY2EK\n-----END CERTIFICATE-----\n");
    put("pki/client.crt", "-----BEGIN CERTIFICATE-----\nY2VydAo=\n-----END CERTIFICATE-----\n");
    put("pki/client.key", "-----BEGIN STAND-IN KEY-----\na2V5Cg==\n-----END STAND-IN KEY-----\n");
    put("token", "token-from-file\n");
    FUZZ_CHECK(asprintf(&path, "%s/kubeconfig", dir) > 0, "out of memory");
    atexit(cleanup);
}

static bool
names_special_files(const uint8_t *data, size_t size)
{
    return memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5)
           || memmem(data, size, "/sys", 4) || memchr(data, '\\', size);
}

/* What kube_client_create() and kube.c read from a configuration. */
static void
use(struct kubeconfig *cfg)
{
    struct kubeconfig_pem pems[3] = { kubeconfig_ca(cfg), kubeconfig_client_cert(cfg),
                                      kubeconfig_client_key(cfg) };
    const char *server = kubeconfig_server(cfg);
    char *token = NULL;
    struct errmsg err;

    FUZZ_CHECK(server && !strncmp(server, "http", 4), "server '%s'", server ? server : "");
    FUZZ_CHECK(kubeconfig_namespace(cfg) != NULL, "no namespace");
    for (size_t i = 0; i < 3; i++) {
        FUZZ_CHECK(!pems[i].data == !pems[i].len, "pem %zu", i);
    }
    (void) kubeconfig_insecure(cfg);
    if (kubeconfig_token(cfg, false, &token, &err) == 0) {
        free(token);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kubeconfig *cfg = NULL;
    struct errmsg err = { "" };
    int r;

    if (!dir) {
        setup();
    }
    if (!names_special_files(data, size)
        && testutil_write_file(path, (const char *) data, size) == 0) {
        r = kubeconfig_load_file(path, NULL, &cfg, &err);
        if (r == 0) {
            use(cfg);
            kubeconfig_destroy(cfg);
        } else {
            FUZZ_CHECK(r < 0 && err.text[0], "failure %d without a message", r);
        }
    }
    return 0;
}
