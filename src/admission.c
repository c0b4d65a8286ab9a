/* admission — see include/exportflows/admission.h.
 *
 * A review runs in three steps, each a small function: decode (is this an
 * AdmissionReview v1 request, and what does it ask about), evaluate (validate,
 * ratchet) and encode (the reply).  Everything borrowed from the parsed request
 * lives in 'struct review', which owns the parsed JSON and the report. */
#include "exportflows/admission.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/fielderr.h"
#include "exportflows/flowspec.h"

/* Longest ?timeout= text; Go durations Kubernetes sends are a few characters. */
#define TIMEOUT_TEXT_MAX 32

struct review {
    json_t *root;                   /* owned: the parsed request body */
    const char *uid;                /* borrowed from 'root' */
    const char *operation;
    const char *name;               /* "" when the request names nothing */
    const json_t *object;           /* NULL unless CREATE/UPDATE of a Network */
    const json_t *old_object;       /* UPDATE only; may be NULL */
    bool checked;                   /* a Network CREATE/UPDATE */
    bool ratcheted;
    struct fielderr_list report;    /* errors and warnings of the new spec */
    struct fielderr_list warnings;  /* what goes into response.warnings */
};

/* Copies 'src' (may be NULL) into 'dst' for logging: cut to fit, control
 * characters replaced, so a hostile uid cannot forge log lines. */
static void
copy_printable(char *dst, size_t size, const char *src)
{
    size_t i = 0;

    for (; src && src[i] && i + 1 < size; i++) {
        unsigned char c = (unsigned char) src[i];

        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char) c;
    }
    dst[i] = '\0';
}

/* True when 'deadline' (CLOCK_MONOTONIC, NULL for none) is now or past. */
static bool
deadline_passed(const struct timespec *deadline)
{
    struct timespec now;

    if (!deadline) {
        return false;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec
           || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* The string member 'key' of 'obj' (borrowed), or NULL when absent or not a
 * string. */
static const char *
get_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* ---- fast reader ----------------------------------------------------------
 *
 * jansson's parser reads about 50 MB/s, so parsing a 3 KB review costs more than
 * everything else a request does (see docs/PERFORMANCE.md).  This reader builds
 * the same jansson tree for the JSON Kubernetes sends, several times faster: ASCII
 * text, non-negative integers, at most FAST_MAX_DEPTH levels.  Anything else —
 * a syntax error, a duplicate key, a non-ASCII byte, a negative or fractional
 * number, \u0000 — makes it give up, and the body is parsed again by jansson with
 * JSON_REJECT_DUPLICATES, which then decides and words the error.  So the fast
 * path may only ever accept what jansson accepts, with an equal tree; the unit
 * tests check exactly that. */

#define FAST_MAX_DEPTH 64
#define FAST_MAX_INT_DIGITS 18          /* always fits json_int_t */

struct fast {
    const char *p, *end;
    unsigned depth;
};

static json_t *fast_value(struct fast *f);

/* Skips JSON white space: the four characters RFC 8259 allows. */
static void
fast_skip_space(struct fast *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t')) {
        f->p++;
    }
}

/* The value of one hex digit, -1 when 'c' is none. */
static int
hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Reads the 4 hex digits after "\u" at 'p'; -1 when malformed. */
static long
read_u4(const char *p, const char *end)
{
    long v = 0;

    if (end - p < 4) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);

        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

/* Writes code point 'cp' (not a surrogate) as UTF-8; returns its length. */
static size_t
put_utf8(char *out, long cp)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xc0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xe0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char) (0xf0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes one escape at '*in' (just after the backslash) into 'out'; returns the
 * bytes written, 0 when malformed or \u0000. */
static size_t
decode_escape(const char **in, const char *end, char *out)
{
    static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
    const char *hit = *in < end && **in ? strchr(plain, **in) : NULL;
    long cp, low;

    if (hit) {
        *out = decoded[hit - plain];
        ++*in;
        return 1;
    }
    if (*in >= end || **in != 'u' || (cp = read_u4(*in + 1, end)) <= 0) {
        return 0;
    }
    *in += 5;
    if (cp >= 0xdc00 && cp <= 0xdfff) {
        return 0;                           /* a low surrogate alone */
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (end - *in < 2 || (*in)[0] != '\\' || (*in)[1] != 'u'
            || (low = read_u4(*in + 2, end)) < 0xdc00 || low > 0xdfff) {
            return 0;
        }
        *in += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    return put_utf8(out, cp);
}

/* Reads a string at f->p (on its opening quote).  Writes its text: borrowed
 * from the body when it has no escape ('*owned' NULL), else decoded into
 * '*owned', which the caller frees.  -1 to give up. */
static int
fast_string(struct fast *f, const char **text, size_t *len, char **owned)
{
    const char *start = ++f->p;
    bool escaped = false;
    char *out;
    size_t n = 0;

    for (; f->p < f->end && *f->p != '"'; f->p++) {
        unsigned char c = (unsigned char) *f->p;

        if (c < 0x20 || c >= 0x80) {
            return -1;
        }
        if (c == '\\') {
            if (f->end - f->p < 2) {
                return -1;
            }
            escaped = true;
            f->p++;                         /* the escaped byte cannot end it */
        }
    }
    if (f->p >= f->end) {
        return -1;
    }
    *owned = NULL;
    if (!escaped) {
        *text = start;
        *len = (size_t) (f->p++ - start);
        return 0;
    }
    out = malloc((size_t) (f->p - start));  /* decoding never grows the text */
    if (!out) {
        return -1;
    }
    for (const char *in = start; in < f->p;) {
        size_t k = 1;

        if (*in != '\\') {
            out[n] = *in++;
        } else {
            in++;
            k = decode_escape(&in, f->p, out + n);
            if (!k) {
                free(out);
                return -1;
            }
        }
        n += k;
    }
    f->p++;
    *owned = out;
    *text = out;
    *len = n;
    return 0;
}

/* A string value: new reference, NULL to give up. */
static json_t *
fast_string_value(struct fast *f)
{
    const char *text;
    char *owned;
    size_t len;
    json_t *value;

    if (fast_string(f, &text, &len, &owned)) {
        return NULL;
    }
    value = json_stringn_nocheck(text, len);
    free(owned);
    return value;
}

/* Non-negative integers only: what Kubernetes objects hold in practice. */
static json_t *
fast_number(struct fast *f)
{
    const char *start = f->p;
    json_int_t v = 0;

    while (f->p < f->end && *f->p >= '0' && *f->p <= '9') {
        if (f->p - start == FAST_MAX_INT_DIGITS) {
            return NULL;
        }
        v = v * 10 + (*f->p++ - '0');
    }
    if ((*start == '0' && f->p - start > 1)
        || (f->p < f->end && (*f->p == '.' || *f->p == 'e' || *f->p == 'E'))) {
        return NULL;
    }
    return json_integer(v);
}

/* Matches 'word' at f->p; takes ownership of 'value' and returns it on a
 * match, NULL (having released it) otherwise. */
static json_t *
fast_literal(struct fast *f, const char *word, json_t *value)
{
    size_t n = strlen(word);

    if ((size_t) (f->end - f->p) < n || memcmp(f->p, word, n)) {
        json_decref(value);
        return NULL;
    }
    f->p += n;
    return value;
}

/* Reads "key": value into 'object'; -1 to give up (also on a duplicate). */
static int
fast_member(struct fast *f, json_t *object)
{
    const char *key;
    char *owned;
    size_t len;
    json_t *value;
    int error = -1;

    if (f->p >= f->end || *f->p != '"' || fast_string(f, &key, &len, &owned)) {
        return -1;
    }
    fast_skip_space(f);
    if (f->p < f->end && *f->p == ':' && !json_object_getn(object, key, len)) {
        f->p++;
        value = fast_value(f);
        error = value ? json_object_setn_new_nocheck(object, key, len, value) : -1;
    }
    free(owned);
    return error;
}

/* Reads the members or elements of a container after its opening bracket.
 * Takes ownership of 'container' (may be NULL on ENOMEM): returns it filled,
 * or NULL having released it. */
static json_t *
fast_container(struct fast *f, json_t *container, char close)
{
    bool object = close == '}';

    f->p++;
    fast_skip_space(f);
    if (f->p < f->end && *f->p == close) {
        f->p++;
        return container;
    }
    while (container) {
        fast_skip_space(f);
        if (object ? fast_member(f, container)
                   : json_array_append_new(container, fast_value(f))) {
            break;
        }
        fast_skip_space(f);
        if (f->p < f->end && *f->p == ',') {
            f->p++;
        } else if (f->p < f->end && *f->p == close) {
            f->p++;
            return container;
        } else {
            break;
        }
    }
    json_decref(container);
    return NULL;
}

/* Any value at f->p: new reference, NULL to give up. */
static json_t *
fast_value(struct fast *f)
{
    json_t *value = NULL;

    fast_skip_space(f);
    if (f->p >= f->end || ++f->depth > FAST_MAX_DEPTH) {
        return NULL;
    }
    switch (*f->p) {
    case '{': value = fast_container(f, json_object(), '}'); break;
    case '[': value = fast_container(f, json_array(), ']'); break;
    case '"': value = fast_string_value(f); break;
    case 't': value = fast_literal(f, "true", json_true()); break;
    case 'f': value = fast_literal(f, "false", json_false()); break;
    case 'n': value = fast_literal(f, "null", json_null()); break;
    default:
        if (*f->p >= '0' && *f->p <= '9') {
            value = fast_number(f);
        }
        break;
    }
    f->depth--;
    return value;
}

/* The body as a tree, or NULL when the fast reader gives up. */
static json_t *
fast_load(const char *body, size_t len)
{
    struct fast f = { body, body + len, 0 };
    json_t *root;

    fast_skip_space(&f);
    if (f.p >= f.end || *f.p != '{') {
        return NULL;                /* jansson words the error */
    }
    root = fast_value(&f);
    fast_skip_space(&f);
    if (root && f.p != f.end) {
        json_decref(root);
        root = NULL;
    }
    return root;
}

/* See admission.h.  When the fast reader gives up, jansson parses the body and
 * words the error; its messages are one line except for the quoted token,
 * which may hold control characters: they are replaced. */
int
admission_parse_body(const char *body, size_t len, json_t **ret, struct errmsg *err)
{
    json_error_t jerr;
    json_t *root = fast_load(body, len);

    if (!root) {
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    }
    if (!root) {
        char text[sizeof jerr.text];

        /* An empty message means the lexer could not even be set up: jansson
         * reports that allocation failure without a code. */
        if (json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0]) {
            return errmsg_set(err, -ENOMEM, "out of memory parsing the body");
        }
        copy_printable(text, sizeof text, jerr.text);
        return errmsg_set(err, -EINVAL, "body is not valid JSON: %s (line %d, column %d)",
                          text, jerr.line, jerr.column);
    }
    *ret = root;
    return 0;
}

/* Checks the envelope: apiVersion, kind and a request object. */
static int
decode_envelope(const json_t *root, const json_t **ret_request, struct errmsg *err)
{
    const char *api_version = get_string(root, "apiVersion");
    const char *kind = get_string(root, "kind");
    const json_t *request = json_object_get(root, "request");

    if (!json_is_object(root)) {
        return errmsg_set(err, -EINVAL, "body is not a JSON object");
    }
    if (!api_version || strcmp(api_version, ADMISSION_API_VERSION)) {
        return errmsg_set(err, -EINVAL, "apiVersion must be \"%s\"", ADMISSION_API_VERSION);
    }
    if (!kind || strcmp(kind, "AdmissionReview")) {
        return errmsg_set(err, -EINVAL, "kind must be \"AdmissionReview\"");
    }
    if (!json_is_object(request)) {
        return errmsg_set(err, -EINVAL, "request is missing or not an object");
    }
    *ret_request = request;
    return 0;
}

/* Writes whether the request is about the networks.operator.openshift.io
 * resource itself (a subresource such as "status" cannot change the spec). */
static int
resource_is_network(const json_t *request, bool *ret, struct errmsg *err)
{
    const json_t *resource = json_object_get(request, "resource");
    const char *group = get_string(resource, "group");
    const char *name = get_string(resource, "resource");
    const char *sub = get_string(request, "subResource");

    if (!group || !name) {
        return errmsg_set(err, -EINVAL,
                          "request.resource must have string group and resource");
    }
    *ret = !strcmp(group, ADMISSION_GROUP) && !strcmp(name, ADMISSION_RESOURCE)
           && (!sub || !*sub);
    return 0;
}

/* The object's name for messages: metadata.name, else request.name, else "". */
static const char *
object_name(const json_t *request, const json_t *object)
{
    const char *name = get_string(json_object_get(object, "metadata"), "name");

    if (!name) {
        name = get_string(request, "name");
    }
    return name ? name : "";
}

/* Fills 'rv' from the request: uid, operation, and the objects to check. */
static int
decode_request(struct review *rv, const json_t *request, struct errmsg *err)
{
    bool network = false;
    int error;

    rv->uid = get_string(request, "uid");
    if (!rv->uid || !*rv->uid) {
        return errmsg_set(err, -EINVAL, "request.uid is missing or empty");
    }
    rv->operation = get_string(request, "operation");
    if (!rv->operation) {
        return errmsg_set(err, -EINVAL, "request.operation is missing or not a string");
    }
    error = resource_is_network(request, &network, err);
    if (error) {
        return error;
    }
    rv->name = object_name(request, json_object_get(request, "object"));
    rv->checked = network && (!strcmp(rv->operation, "CREATE")
                              || !strcmp(rv->operation, "UPDATE"));
    if (!rv->checked) {
        return 0;
    }
    rv->object = json_object_get(request, "object");
    if (!json_is_object(rv->object)) {
        return errmsg_set(err, -EINVAL, "request.object is missing or not an object");
    }
    if (!strcmp(rv->operation, "UPDATE")) {
        rv->old_object = json_object_get(request, "oldObject");
    }
    return 0;
}

/* Parses 'body' into rv->root (owned by 'rv' also on failure) and fills the
 * fields 'rv' borrows from it. */
static int
decode(struct review *rv, const char *body, size_t len, struct errmsg *err)
{
    const json_t *request = NULL;
    int error;

    error = admission_parse_body(body, len, &rv->root, err);
    if (!error) {
        error = decode_envelope(rv->root, &request, err);
    }
    if (!error) {
        error = decode_request(rv, request, err);
    }
    return error;
}

/* Ratcheting (rule 9): an UPDATE that leaves exportNetworkFlows as it was is
 * allowed, and the errors it still has become warnings. */
static void
warn_ratcheted(struct review *rv)
{
    fielderr_warn(&rv->warnings, "%s is unchanged and invalid (%zu errors); "
                  "allowed so other edits are not blocked", FLOWSPEC_FIELD,
                  fielderr_list_count(&rv->report));
    for (size_t i = 0; i < rv->report.n_errors; i++) {
        char *text = fielderr_format(&rv->report.errors[i]);

        if (text) {
            fielderr_warn(&rv->warnings, "%s", text);
        }
        free(text);
    }
}

/* Validates the new spec into rv->report and gathers rv->warnings: the
 * ratcheting notes first, then the validation warnings. */
static void
evaluate(struct review *rv)
{
    const json_t *spec = json_object_get(rv->object, "spec");
    struct flowspec normalised;

    if (!rv->checked) {
        return;
    }
    if (flowspec_validate(spec, &rv->report, &normalised) && json_is_object(rv->old_object)
        && flowspec_same(json_object_get(rv->old_object, "spec"), spec)) {
        rv->ratcheted = true;
        warn_ratcheted(rv);
    }
    for (size_t i = 0; i < rv->report.n_warnings; i++) {
        fielderr_warn(&rv->warnings, "%s", rv->report.warnings[i]);
    }
}

/* Rule 9 aside, any error denies. */
static bool
is_allowed(const struct review *rv)
{
    return !rv->checked || rv->ratcheted || fielderr_list_count(&rv->report) == 0;
}

/* One details.causes entry, as Kubernetes builds it from a field.Error.  New
 * reference, NULL on ENOMEM (as for every *_new() below). */
static json_t *
cause_new(const struct fielderr *e)
{
    char *message = fielderr_message(e);
    json_t *cause = NULL;

    if (message) {
        cause = json_pack("{s:s, s:s, s:s}", "reason", fielderr_type_reason(e->type),
                          "message", message, "field", e->field);
    }
    free(message);
    return cause;
}

/* details.causes: one entry per error kept in 'report'. */
static json_t *
causes_new(const struct fielderr_list *report)
{
    json_t *causes = json_array();

    for (size_t i = 0; causes && i < report->n_errors; i++) {
        if (json_array_append_new(causes, cause_new(&report->errors[i]))) {
            json_decref(causes);
            causes = NULL;
        }
    }
    return causes;
}

/* The message of Kubernetes' NewInvalid():
 *   Network.operator.openshift.io "cluster" is invalid: <every error> */
static json_t *
invalid_message_new(const char *name, const struct fielderr_list *report)
{
    char *summary = fielderr_list_summary(report);
    json_t *message = NULL;

    if (summary) {
        message = json_sprintf("%s.%s \"%s\" is invalid: %s", ADMISSION_KIND,
                               ADMISSION_GROUP, name, summary);
    }
    free(summary);
    return message;
}

/* response.status of a deny: a metav1.Status with reason Invalid and code 422. */
static json_t *
status_new(const struct review *rv)
{
    return json_pack("{s:{}, s:s, s:o, s:s, s:{s:s, s:s, s:s, s:o}, s:i}",
                     "metadata", "status", "Failure",
                     "message", invalid_message_new(rv->name, &rv->report),
                     "reason", "Invalid",
                     "details", "name", rv->name, "group", ADMISSION_GROUP,
                     "kind", ADMISSION_KIND, "causes", causes_new(&rv->report),
                     "code", 422);
}

/* response.warnings, already within Kubernetes' limits (fielderr_warn()). */
static json_t *
warnings_new(const struct fielderr_list *warnings)
{
    json_t *array = json_array();

    for (size_t i = 0; array && i < warnings->n_warnings; i++) {
        if (json_array_append_new(array, json_string(warnings->warnings[i]))) {
            json_decref(array);
            array = NULL;
        }
    }
    return array;
}

/* The AdmissionResponse: uid, allowed, and status and warnings when there
 * are any; never a patch. */
static json_t *
response_new(const struct review *rv)
{
    json_t *response = json_pack("{s:s, s:b}", "uid", rv->uid,
                                 "allowed", is_allowed(rv));

    if (response && !is_allowed(rv)
        && json_object_set_new(response, "status", status_new(rv))) {
        goto fail;
    }
    if (response && rv->warnings.n_warnings
        && json_object_set_new(response, "warnings", warnings_new(&rv->warnings))) {
        goto fail;
    }
    return response;

fail:
    json_decref(response);
    return NULL;
}

/* The reply text into '*ret_reply' (caller frees) and its length. */
static int
encode(const struct review *rv, char **ret_reply, size_t *ret_len)
{
    json_t *reply = json_pack("{s:s, s:s, s:o}", "apiVersion", ADMISSION_API_VERSION,
                              "kind", "AdmissionReview", "response", response_new(rv));
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;

    json_decref(reply);
    if (!text) {
        return -ENOMEM;
    }
    *ret_reply = text;
    *ret_len = strlen(text);
    return 0;
}

/* Copies what the caller logs and counts into 'summary' (may be NULL). */
static void
summarise(const struct review *rv, struct admission_summary *summary)
{
    if (!summary) {
        return;
    }
    copy_printable(summary->uid, sizeof summary->uid, rv->uid);
    copy_printable(summary->operation, sizeof summary->operation, rv->operation);
    copy_printable(summary->name, sizeof summary->name, rv->name);
    summary->allowed = is_allowed(rv);
    summary->checked = rv->checked;
    summary->ratcheted = rv->ratcheted;
    summary->n_errors = fielderr_list_count(&rv->report);
    summary->n_warnings = rv->warnings.n_warnings;
}

int
admission_review(const char *body, size_t len, const struct timespec *deadline,
                 char **ret_reply, size_t *ret_len,
                 struct admission_summary *summary, struct errmsg *err)
{
    struct review rv = { .name = "" };
    int error;

    fielderr_list_init(&rv.report);
    fielderr_list_init(&rv.warnings);
    error = decode(&rv, body, len, err);
    if (!error && deadline_passed(deadline)) {
        error = errmsg_set(err, -ETIMEDOUT, "the request's timeout passed");
    }
    if (!error) {
        evaluate(&rv);
        error = deadline_passed(deadline)
                ? errmsg_set(err, -ETIMEDOUT, "the request's timeout passed")
                : encode(&rv, ret_reply, ret_len);
        if (error == -ENOMEM) {
            errmsg_set(err, error, "out of memory building the reply");
        }
    }
    summarise(&rv, summary);
    fielderr_list_release(&rv.warnings);
    fielderr_list_release(&rv.report);
    json_decref(rv.root);
    return error;
}

/* Nanoseconds per unit of a Go duration; 0 for an unknown unit.  '*len' gets
 * the unit's length in bytes. */
static uint64_t
duration_unit(const char *s, size_t *len)
{
    static const struct { const char *name; uint64_t ns; } units[] = {
        { "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 },
        { "ms", 1000000 }, { "s", 1000000000 }, { "m", 60000000000 },
        { "h", 3600000000000 },
    };
    uint64_t best = 0;

    /* Longest match wins, so "ms" is not read as "m" followed by "s". */
    *len = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t n = strlen(units[i].name);

        if (n > *len && !strncmp(s, units[i].name, n)) {
            *len = n;
            best = units[i].ns;
        }
    }
    return best;
}

/* Reads "<digits>[.<digits>]<unit>" at '*s' and adds it to '*total_ns'. */
static int
duration_term(const char **s, uint64_t *total_ns)
{
    const char *p = *s;
    uint64_t whole = 0, frac = 0, scale = 1, unit;
    size_t n_digits = 0, unit_len;

    for (; *p >= '0' && *p <= '9'; p++, n_digits++) {
        if (whole > 1000000000000ULL) {
            return -ERANGE;
        }
        whole = whole * 10 + (uint64_t) (*p - '0');
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, n_digits++) {
            if (scale < 1000000000000ULL) {     /* finer digits cannot matter */
                frac = frac * 10 + (uint64_t) (*p - '0');
                scale *= 10;
            }
        }
    }
    unit = duration_unit(p, &unit_len);
    if (!n_digits || !unit) {
        return -EINVAL;
    }
    /* whole <= 1e13 and unit <= 3.6e12 could overflow: check in two steps. */
    if (whole > ADMISSION_TIMEOUT_MAX_US * 1000 / unit) {
        return -ERANGE;
    }
    *total_ns += whole * unit + (uint64_t) ((double) frac / (double) scale * (double) unit);
    *s = p + unit_len;
    return 0;
}

int
admission_parse_timeout(const char *text, uint64_t *ret_us)
{
    uint64_t total_ns = 0;
    const char *p = text;

    if (!*text || strnlen(text, TIMEOUT_TEXT_MAX + 1) > TIMEOUT_TEXT_MAX) {
        return -EINVAL;
    }
    while (*p) {
        int error = duration_term(&p, &total_ns);

        if (error) {
            return error;
        }
        if (total_ns > ADMISSION_TIMEOUT_MAX_US * 1000) {
            return -ERANGE;
        }
    }
    if (total_ns == 0) {
        return -ERANGE;
    }
    *ret_us = (total_ns + 999) / 1000;
    return 0;
}

struct timespec
admission_deadline(uint64_t timeout_us)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t) (timeout_us / 1000000);
    t.tv_nsec += (long) (timeout_us % 1000000) * 1000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}
