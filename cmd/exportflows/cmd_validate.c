/* exportflows validate — checks spec.exportNetworkFlows of the Network objects in
 * manifest files with the webhook's rules and messages (flowspec_validate()).
 *
 * Text output, on stdout, one line per finding, nothing for a valid file:
 *   FILE: spec.exportNetworkFlows.netFlow[1]: Duplicate value: "..." (same as netFlow[0])
 *   FILE: and 3 more errors
 *   FILE: warning: spec.exportNetworkFlows.ipfix[0]: "127.0.0.1:2055" is a loopback address
 *   FILE: warning: and 2 more warnings
 * FILE becomes FILE[N] when the file holds several objects (YAML documents or List
 * items), N counting them from 0 in file order.  Files that cannot be read or
 * parsed are reported on stderr ("FILE: cannot open: ...", "FILE:LINE: ...").
 *
 * Only objects of apiVersion operator.openshift.io/v1, kind Network are checked;
 * others are skipped silently (listed as skipped in --output json). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "exportflows/admission/fielderr.h"
#include "exportflows/admission/flowspec.h"
#include "exportflows/base/jsontext.h"
#include "exportflows/admission/manifest.h"

#define NETWORK_API_VERSION "operator.openshift.io/v1"
#define NETWORK_KIND "Network"

/* Room for "FILE[N]"; longer names are shortened, which only affects display. */
#define LOCATION_SIZE 4200

#define COMMAND PROGRAM " validate"

/* --output */
enum { OUTPUT_TEXT, OUTPUT_JSON };
static const char *const output_names[] = { [OUTPUT_TEXT] = "text", [OUTPUT_JSON] = "json",
                                            NULL };

static const char validate_description[] =
    "\nChecks spec.exportNetworkFlows of every operator.openshift.io/v1 Network\n"
    "object in the FILEs (YAML or JSON; one object, a List, or several YAML\n"
    "documents; '-' reads standard input) with the webhook's rules.  Prints one\n"
    "line per error and per warning (\"FILE: warning: ...\"), nothing when valid.\n"
    "Exit status: 0 all valid, 1 some object invalid, 2 bad usage or a file that\n"
    "cannot be read or parsed.\n";

/* The outcome of all files, and the JSON document for --output json. */
struct validate_run {
    bool json;
    bool invalid;               /* some object has errors */
    bool unreadable;            /* some file could not be read or parsed */
    json_t *objects;            /* --output json: one entry per object */
    json_t *file_errors;        /* --output json: {file, message} */
};

bool
cmd_is_network(const json_t *object)
{
    /* Compared over their whole length: "Network\u0000x" is another kind. */
    return jsontext_is(json_object_get(object, "apiVersion"), NETWORK_API_VERSION)
           && jsontext_is(json_object_get(object, "kind"), NETWORK_KIND);
}

/* ---- text output -------------------------------------------------------------- */

static void
print_errors(const char *where, const struct fielderr_list *report)
{
    for (size_t i = 0; i < report->n_errors; i++) {
        char *line = fielderr_format(&report->errors[i]);

        printf("%s: %s\n", where, line ? line : "out of memory");
        free(line);
    }
    if (report->n_dropped_errors) {
        printf("%s: and %zu more error%s\n", where, report->n_dropped_errors,
               report->n_dropped_errors == 1 ? "" : "s");
    }
}

static void
print_warnings(const char *where, const struct fielderr_list *report)
{
    for (size_t i = 0; i < report->n_warnings; i++) {
        printf("%s: warning: %s\n", where, report->warnings[i]);
    }
    if (report->n_dropped_warnings) {
        printf("%s: warning: and %zu more warning%s\n", where,
               report->n_dropped_warnings, report->n_dropped_warnings == 1 ? "" : "s");
    }
}

/* ---- JSON output -------------------------------------------------------------- */

/* Sets 'key' of 'object' to 'value' (stolen); false on ENOMEM. */
static bool
set(json_t *object, const char *key, json_t *value)
{
    return value && !json_object_set_new(object, key, value);
}

static json_t *
error_json(const struct fielderr *e)
{
    char *message = fielderr_message(e);
    json_t *json = message ? json_object() : NULL;

    if (json && !(set(json, "field", json_string(e->field))
                  && set(json, "type", json_string(fielderr_type_label(e->type)))
                  && set(json, "reason", json_string(fielderr_type_reason(e->type)))
                  && set(json, "message", json_string(message)))) {
        json_decref(json);
        json = NULL;
    }
    free(message);
    return json;
}

/* The errors of 'report' as objects, or its warnings as strings. */
static json_t *
findings_json(const struct fielderr_list *report, bool errors)
{
    size_t n = errors ? report->n_errors : report->n_warnings;
    json_t *array = json_array();

    for (size_t i = 0; array && i < n; i++) {
        if (json_array_append_new(array, errors ? error_json(&report->errors[i])
                                                : json_string(report->warnings[i]))) {
            json_decref(array);
            array = NULL;
        }
    }
    return array;
}

/* A JSON string for 'text' (borrowed), with bytes that are not ASCII replaced by
 * '?' when 'text' is not UTF-8 (a file name can be anything). */
static json_t *
text_json(const char *text)
{
    json_t *json = json_string(text);
    char *copy;

    if (json || !text) {
        return json;
    }
    copy = strdup(text);
    if (!copy) {
        return NULL;
    }
    for (char *p = copy; *p; p++) {
        *p = (unsigned char) *p < 0x80 ? *p : '?';
    }
    json = json_string(copy);
    free(copy);
    return json;
}

/* A new reference to 'value' (borrowed) when it is a string, else to null. */
static json_t *
string_or_null(const json_t *value)
{
    return json_is_string(value) ? json_copy((json_t *) value) : json_null();
}

/* {file, index, document, [item,] line, apiVersion, kind, name, skipped}: where an
 * object is and what it is.  apiVersion, kind and name are null when absent. */
static json_t *
object_entry(const char *file, size_t index, const struct manifest_object *o)
{
    const json_t *metadata = json_object_get(o->json, "metadata");
    json_t *entry = json_object();
    bool ok = entry
              && set(entry, "file", text_json(file))
              && set(entry, "index", json_integer((json_int_t) index))
              && set(entry, "document", json_integer((json_int_t) o->document))
              && (o->item < 0 || set(entry, "item", json_integer(o->item)))
              && set(entry, "line", json_integer(o->line))
              && set(entry, "apiVersion", string_or_null(json_object_get(o->json, "apiVersion")))
              && set(entry, "kind", string_or_null(json_object_get(o->json, "kind")))
              && set(entry, "name", string_or_null(json_object_get(metadata, "name")))
              && set(entry, "skipped", json_boolean(!cmd_is_network(o->json)));

    if (!ok) {
        json_decref(entry);
        return NULL;
    }
    return entry;
}

/* Appends 'entry' (stolen; NULL after ENOMEM) to the JSON output, with the
 * findings of 'report' when the object was checked. */
static int
add_json_result(struct validate_run *run, json_t *entry, const struct fielderr_list *report)
{
    bool ok = entry;

    if (ok && report) {
        ok = set(entry, "valid", json_boolean(fielderr_list_count(report) == 0))
             && set(entry, "errors", findings_json(report, true))
             && set(entry, "droppedErrors", json_integer((json_int_t) report->n_dropped_errors))
             && set(entry, "warnings", findings_json(report, false))
             && set(entry, "droppedWarnings",
                    json_integer((json_int_t) report->n_dropped_warnings));
    }
    if (!ok) {
        json_decref(entry);
        return -ENOMEM;
    }
    return json_array_append_new(run->objects, entry) ? -ENOMEM : 0;
}

/* ---- checking ----------------------------------------------------------------- */

/* Checks the object at 'index' of 'file' and records or prints the outcome. */
static int
check_object(struct validate_run *run, const char *file, const struct manifest *m,
             size_t index)
{
    const struct manifest_object *o = &m->objects[index];
    struct fielderr_list report;
    struct flowspec spec;
    char where[LOCATION_SIZE];
    int r = 0;

    if (!cmd_is_network(o->json)) {
        return run->json ? add_json_result(run, object_entry(file, index, o), NULL) : 0;
    }
    fielderr_list_init(&report);
    if (flowspec_validate(json_object_get(o->json, "spec"), &report, &spec)) {
        run->invalid = true;
    }
    if (run->json) {
        r = add_json_result(run, object_entry(file, index, o), &report);
    } else {
        if (m->n > 1) {
            snprintf(where, sizeof where, "%s[%zu]", file, index);
        } else {
            snprintf(where, sizeof where, "%s", file);
        }
        print_errors(where, &report);
        print_warnings(where, &report);
    }
    fielderr_list_release(&report);
    return r;
}

static int
note_file_error(struct validate_run *run, const char *file, const char *message)
{
    json_t *entry;

    fprintf(stderr, "%s\n", message);
    run->unreadable = true;
    if (!run->json) {
        return 0;
    }
    entry = json_object();
    if (!entry || !set(entry, "file", text_json(file))
        || !set(entry, "message", text_json(message))) {
        json_decref(entry);
        return -ENOMEM;
    }
    return json_array_append_new(run->file_errors, entry) ? -ENOMEM : 0;
}

static int
check_file(struct validate_run *run, const char *path)
{
    const char *file = manifest_display_name(path);
    struct manifest m;
    struct errmsg err;
    int r = 0;

    if (manifest_load(path, &m, &err)) {
        return note_file_error(run, file, err.text);
    }
    for (size_t i = 0; i < m.n && !r; i++) {
        r = check_object(run, file, &m, i);
    }
    manifest_release(&m);
    return r;
}

static int
print_json(const struct validate_run *run)
{
    json_t *doc = json_pack("{s:b, s:O, s:O}", "valid", !run->invalid && !run->unreadable,
                            "objects", run->objects, "fileErrors", run->file_errors);
    int r;

    if (!doc) {
        return -ENOMEM;
    }
    r = json_dumpf(doc, stdout, JSON_INDENT(2)) ? -EIO : 0;
    json_decref(doc);
    if (!r) {
        putchar('\n');
    }
    return r;
}

static int
run_checks(struct validate_run *run, int n_files, char **files)
{
    for (int i = 0; i < n_files; i++) {
        if (check_file(run, files[i])) {
            return -ENOMEM;
        }
    }
    return run->json ? print_json(run) : 0;
}

int
cmd_validate(int argc, char **argv)
{
    int output = OUTPUT_TEXT;
    const struct option_spec specs[] = {
        OPT_CHOICE("output", &output, output_names, "FORMAT", "text or json (default: text)"),
        OPT_END,
    };
    const struct options_program program = {
        .name = COMMAND,
        .synopsis = COMMAND " [--output text|json] FILE...",
        .description = validate_description,
        .specs = specs,
        .min_args = 1, .max_args = SIZE_MAX,
        .missing_args = "no FILE given ('-' reads standard input)",
    };
    struct validate_run run = { .invalid = false };
    int first;
    int status = options_run(&program, argc, argv, &first);

    if (status != OPTIONS_GO_ON) {
        return status;
    }
    run.json = output == OUTPUT_JSON;
    run.objects = json_array();
    run.file_errors = json_array();
    if (!run.objects || !run.file_errors || run_checks(&run, argc - first, argv + first)) {
        fprintf(stderr, "%s: out of memory or cannot write output\n", COMMAND);
        run.unreadable = true;
    }
    json_decref(run.objects);
    json_decref(run.file_errors);
    if (fflush(stdout)) {
        return EXIT_USAGE;
    }
    return run.unreadable ? EXIT_USAGE : run.invalid ? EXIT_INVALID : EXIT_OK;
}
