/* fuzz_manifest — YAML or JSON manifests as `exportflows validate` reads them
 * (src/admission/manifest.c): files from anywhere.
 *
 * manifest_parse() on any bytes, and every object it yields validated as the
 * command does.  Checks, besides the sanitizers: a failure says where (its
 * message starts with a line number), the limits hold (MANIFEST_MAX_NODES),
 * and every object is a JSON object that serialises and reads back the same
 * (so the webhook would see what validate saw; a YAML "\0" makes a string
 * with a NUL, which JSON carries as \u0000). */
#include <errno.h>

#include <jansson.h>

#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/admission/manifest.h"
#include "fuzz.h"

static void
check_object(const struct manifest_object *o)
{
    struct fielderr_list report;
    struct flowspec spec;
    json_t *again;
    char *text;

    FUZZ_CHECK(json_is_object(o->json) && o->line >= 1, "object %zu", o->document);
    text = json_dumps(o->json, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_CHECK(text != NULL, "does not serialise");
    again = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(again && json_equal(again, o->json), "does not read back: %s", text);
    json_decref(again);
    free(text);
    fielderr_list_init(&report);
    flowspec_validate(json_object_get(o->json, "spec"), &report, &spec);
    fielderr_list_release(&report);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct manifest manifest = { 0 };
    struct errmsg err = { "" };
    int r = manifest_parse((const char *) data, size, &manifest, &err);

    if (r) {
        FUZZ_CHECK(r == -EINVAL || r == -E2BIG, "unexpected %d (%s)", r, err.text);
        FUZZ_CHECK(err.text[0] >= '1' && err.text[0] <= '9', "message '%s'", err.text);
        return 0;
    }
    FUZZ_CHECK(manifest.n <= MANIFEST_MAX_NODES, "%zu objects", manifest.n);
    for (size_t i = 0; i < manifest.n; i++) {
        check_object(&manifest.objects[i]);
    }
    manifest_release(&manifest);
    return 0;
}
