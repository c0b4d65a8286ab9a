/* fuzz_authorization — the Authorization header of a request to the applier's
 * /metrics, which anyone on the node network can send (src/kube/kubeauth.c).
 *
 * kubeauth_check() on the input as the header, with an API server that cannot
 * be reached (a closed port on loopback): a header it accepts as a bearer
 * token costs one refused connection.  Checks, besides the sanitizers: no
 * header is ever allowed without the API server saying so, and a header that
 * is not a bearer token is refused (401) without an error. */
#include <errno.h>

#include "exportflows/kube/kubeauth.h"
#include "exportflows/kube/kubeconfig.h"
#include "fuzz.h"
#include "testutil.h"

static const char kubeconfig_text[] =
    "apiVersion: v1\nkind: Config\n"
    "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
    "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n";

static struct kubeconfig *cfg;
static struct kubeauth *auth;

static void
cleanup(void)
{
    kubeauth_destroy(auth);
    kubeconfig_destroy(cfg);
}

static void
setup(void)
{
    struct kubeauth_config config = { .verb = "get", .path = "/metrics", .timeout_ms = 2000 };
    char *dir = testutil_tempdir("fuzz-auth"), *path = NULL;
    struct errmsg err = { "" };

    FUZZ_CHECK(dir && asprintf(&path, "%s/kubeconfig", dir) > 0
               && !testutil_write_text(path, kubeconfig_text)
               && !kubeconfig_load_file(path, NULL, &cfg, &err)
               && !kubeauth_create(cfg, &config, &auth, &err), "setup: %s", err.text);
    testutil_rmtree(dir);
    free(dir);
    free(path);
    atexit(cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = fuzz_strndup(data, size);
    enum kubeauth_result result = KUBEAUTH_ALLOWED;
    struct errmsg err;
    int r;

    if (!cfg) {
        setup();
    }
    r = kubeauth_check(auth, header, &result, &err);
    if (r == 0) {
        FUZZ_CHECK(result == KUBEAUTH_UNAUTHENTICATED, "'%s' decided %d without the API "
                   "server", header, (int) result);
    } else {
        FUZZ_CHECK(strncasecmp(header, "Bearer ", 7) == 0, "'%s' failed with %d: %s",
                   header, r, err.text);
    }
    free(header);
    return 0;
}
