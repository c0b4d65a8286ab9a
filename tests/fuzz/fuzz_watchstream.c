/* fuzz_watchstream — the body of a Kubernetes watch reply (src/kube/watchstream.c),
 * as the API server streams it to the publisher and the appliers.
 *
 * The input is fed to a watchstream in pieces of varying sizes (fuzz_piece()),
 * with a line cap small enough for the fuzzer to cross; each complete line is
 * parsed as an event and handled as kubewatch and its consumers do: the action
 * chosen, a delivered object read as a Network (flowspec_validate()) and as the
 * config ConfigMap (flowconfig_data_parse()).  After an error the stream
 * is reset and feeding goes on, as a new WATCH would.  Checks, besides the
 * sanitizers: an object event has its resourceVersion, an ERROR its code, and
 * the held tail never passes the cap. */
#include <errno.h>

#include <jansson.h>

#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowconfig.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/kube/kubewatch.h"
#include "exportflows/kube/watchstream.h"
#include "fuzz.h"

#define MAX_LINE 4096

static void
consume(const json_t *object)
{
    struct fielderr_list report;
    struct flowconfig config;
    struct flowspec spec;

    fielderr_list_init(&report);
    flowspec_validate(json_object_get(object, "spec"), &report, &spec);
    fielderr_list_release(&report);
    flowconfig_data_parse(json_object_get(object, "data"), &config, NULL);
}

static int
on_line(void *ctx, const char *line, size_t len)
{
    struct watchstream_event ev;
    struct errmsg err;
    int r;

    FUZZ_CHECK(len <= MAX_LINE && line[len] == '\0', "line of %zu bytes", len);
    r = watchstream_parse_event(line, len, &ev, &err);
    if (r) {
        FUZZ_CHECK(r == -EPROTO && err.text[0], "unexpected %d", r);
        return r;
    }
    FUZZ_CHECK(ev.object != NULL, "event without an object");
    if (ev.type == WATCHSTREAM_ERROR) {
        FUZZ_CHECK(ev.message != NULL, "ERROR without a message");
    } else {
        FUZZ_CHECK(ev.resource_version != NULL, "%s without a resourceVersion",
                   watchstream_type_name(ev.type));
    }
    if (kubewatch_action_for(&ev) == KUBEWATCH_DELIVER) {
        consume(ev.object);
    }
    watchstream_event_release(&ev);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct watchstream *ws = NULL;

    FUZZ_CHECK(watchstream_create(MAX_LINE, &ws) == 0, "out of memory");
    for (size_t at = 0, i = 0; at < size; i++) {
        size_t n = fuzz_piece(i) < size - at ? fuzz_piece(i) : size - at;
        struct errmsg err;
        int r = watchstream_feed(ws, (const char *) data + at, n, on_line, NULL, &err);

        if (r) {
            FUZZ_CHECK(r == -EPROTO || r == -EMSGSIZE, "feed: %d", r);
            watchstream_reset(ws);
        }
        FUZZ_CHECK(watchstream_pending(ws) <= MAX_LINE, "holds %zu bytes",
                   watchstream_pending(ws));
        at += n;
    }
    watchstream_destroy(ws);
    return 0;
}
