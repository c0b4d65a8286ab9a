/* manifest — see include/exportflows/admission/manifest.h.
 *
 * YAML is read through libyaml's event parser rather than its document loader:
 * the loader keeps a second copy of the whole tree and expands nothing we could
 * bound, while events let us count values and depth as they arrive and refuse
 * aliases before anything is built. */
#include "exportflows/admission/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "exportflows/base/jsontext.h"
#include "exportflows/base/readfile.h"

/* Longest plain scalar we try to read as a number; longer ones stay strings. */
#define NUMBER_TEXT_MAX 128

/* ---- the object list ---------------------------------------------------------- */

void
manifest_release(struct manifest *manifest)
{
    if (!manifest) {
        return;
    }
    for (size_t i = 0; i < manifest->n; i++) {
        json_decref(manifest->objects[i].json);
    }
    free(manifest->objects);
    manifest->objects = NULL;
    manifest->n = 0;
    manifest->allocated = 0;
}

/* Makes room for 'more' objects, doubling so that a file of many small
 * documents does not cost a copy per object. */
static int
manifest_reserve(struct manifest *m, size_t more)
{
    struct manifest_object *objects;
    size_t want = m->n + more;
    size_t size = m->allocated ? m->allocated : 4;

    if (want <= m->allocated) {
        return 0;
    }
    while (size < want) {
        size *= 2;
    }
    objects = realloc(m->objects, size * sizeof *objects);
    if (!objects) {
        return -ENOMEM;
    }
    m->objects = objects;
    m->allocated = size;
    return 0;
}

/* Appends a new reference to 'json' (borrowed). */
static int
manifest_append(struct manifest *m, json_t *json, size_t document, long item,
                unsigned line)
{
    if (manifest_reserve(m, 1)) {
        return -ENOMEM;
    }
    m->objects[m->n++] = (struct manifest_object) {
        .json = json_incref(json), .document = document, .item = item, .line = line,
    };
    return 0;
}

/* True for kubectl's idea of a list: a kind ending in "List" and an "items" key. */
static bool
is_list(const json_t *object)
{
    const char *kind = jsontext_get(json_object_get(object, "kind"));
    size_t len = kind ? strlen(kind) : 0;

    return len >= 4 && !strcmp(kind + len - 4, "List")
           && json_object_get(object, "items");
}

/* Adds the document root 'root' (borrowed, an object), or the items of a List.
 * 'item_lines' holds the start line of each item when known (n_item_lines equal
 * to the number of items), else the items get the List's line. */
static int
add_document(struct manifest *m, const json_t *root, size_t document, unsigned line,
             const unsigned *item_lines, size_t n_item_lines, struct errmsg *err)
{
    const json_t *items;

    if (!is_list(root)) {
        return manifest_append(m, (json_t *) root, document, -1, line)
               ? errmsg_set(err, -ENOMEM, "out of memory") : 0;
    }
    items = json_object_get(root, "items");
    if (!json_is_array(items)) {
        return errmsg_set(err, -EINVAL, "%u: the items of a List must be a sequence",
                          line);
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *item = json_array_get(items, i);
        unsigned item_line = n_item_lines == json_array_size(items)
                             ? item_lines[i] : line;

        if (!json_is_object(item)) {
            return errmsg_set(err, -EINVAL, "%u: items[%zu] of the List is not an object",
                              item_line, i);
        }
        if (manifest_append(m, item, document, (long) i, item_line)) {
            return errmsg_set(err, -ENOMEM, "out of memory");
        }
    }
    return 0;
}

static const char *
json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT: return "mapping";
    case JSON_ARRAY: return "sequence";
    case JSON_STRING: return "string";
    case JSON_INTEGER: case JSON_REAL: return "number";
    case JSON_TRUE: case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

/* Checks and adds one document root (borrowed).  null (an empty YAML document) is
 * skipped, as kubectl skips it. */
static int
finish_document(struct manifest *m, const json_t *root, size_t document,
                unsigned line, const unsigned *item_lines, size_t n_item_lines,
                struct errmsg *err)
{
    if (!root || json_is_null(root)) {
        return 0;
    }
    if (!json_is_object(root)) {
        return errmsg_set(err, -EINVAL, "%u: a manifest must be a mapping, not a %s",
                          line, json_type_name(root));
    }
    return add_document(m, root, document, line, item_lines, n_item_lines, err);
}

/* ---- YAML scalars ------------------------------------------------------------- */

static bool
in_list(const char *text, const char *const *list)
{
    for (; *list; list++) {
        if (!strcmp(text, *list)) {
            return true;
        }
    }
    return false;
}

/* go-yaml v2's table of plain words. */
static const char *const yaml_nulls[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const yaml_trues[] = {
    "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL,
};
static const char *const yaml_falses[] = {
    "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL,
};
static const char *const yaml_non_finite[] = {
    ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
    "-.inf", "-.Inf", "-.INF", NULL,
};

static int
digit_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return 99;
}

/* Go's strconv.ParseInt(text, 0, 64), which go-yaml v2 applies after removing
 * underscores: optional sign, then 0x/0o/0b prefixed, leading-zero octal or
 * decimal digits.  False when 'text' is not such an integer or out of range. */
static bool
parse_yaml_int(const char *text, json_int_t *ret)
{
    bool negative = *text == '-';
    unsigned base = 10;
    uint64_t magnitude = 0;

    text += *text == '-' || *text == '+';
    if (text[0] == '0' && text[1] && strchr("xXoObB", text[1])) {
        base = strchr("xX", text[1]) ? 16 : strchr("oO", text[1]) ? 8 : 2;
        text += 2;
    } else if (text[0] == '0' && text[1]) {
        base = 8;
    }
    if (!*text) {
        return false;
    }
    for (; *text; text++) {
        unsigned digit = (unsigned) digit_value(*text);

        if (digit >= base || magnitude > (UINT64_MAX - digit) / base) {
            return false;
        }
        magnitude = magnitude * base + digit;
    }
    if (magnitude > (uint64_t) INT64_MAX + negative) {
        return false;
    }
    *ret = negative ? (json_int_t) (0 - magnitude) : (json_int_t) magnitude;
    return true;
}

static const char *
skip_digits(const char *p)
{
    while (*p >= '0' && *p <= '9') {
        p++;
    }
    return p;
}

/* go-yaml v2's float pattern: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool
is_yaml_float(const char *p)
{
    const char *q;

    p += *p == '-' || *p == '+';
    if (*p == '.') {
        q = skip_digits(p + 1);
        if (q == p + 1) {
            return false;
        }
    } else {
        q = skip_digits(p);
        if (q == p) {
            return false;
        }
        if (*q == '.') {
            q = skip_digits(q + 1);
        }
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        q += *q == '-' || *q == '+';
        p = q;
        q = skip_digits(q);
        if (q == p) {
            return false;
        }
    }
    return *q == '\0';
}

/* A number for a plain scalar that looks like one, else NULL (a string).  Works
 * on a copy without underscores, as go-yaml v2 does ("1_000" is 1000). */
static json_t *
plain_number(const char *text, size_t len)
{
    char digits[NUMBER_TEXT_MAX];
    size_t n = 0;
    json_int_t integer;

    if (len >= sizeof digits || !strchr("+-.0123456789", text[0])) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '_' || text[0] == '.') {
            digits[n++] = text[i];
        }
    }
    digits[n] = '\0';
    if (text[0] != '.' && parse_yaml_int(digits, &integer)) {
        return json_integer(integer);
    }
    if (is_yaml_float(digits)) {
        /* The text matched the pattern above, so strtod reads all of it; values
         * beyond double's range come back infinite and stay strings, as in Go. */
        double value = strtod(digits, NULL);

        return isfinite(value) ? json_real(value) : NULL;
    }
    return NULL;
}

/* The JSON value of a plain scalar 'text' (NUL-terminated, 'len' bytes). */
static int
plain_scalar(const char *text, size_t len, json_t **ret)
{
    json_t *value;

    if (in_list(text, yaml_nulls)) {
        value = json_null();
    } else if (in_list(text, yaml_trues)) {
        value = json_true();
    } else if (in_list(text, yaml_falses)) {
        value = json_false();
    } else if (in_list(text, yaml_non_finite)) {
        return -EDOM;
    } else {
        value = plain_number(text, len);
        if (!value) {
            value = json_stringn(text, len);
        }
    }
    if (!value) {
        return -ENOMEM;
    }
    *ret = value;
    return 0;
}

static int
scalar_to_json(const yaml_event_t *event, json_t **ret)
{
    const char *text = (const char *) event->data.scalar.value;
    size_t len = event->data.scalar.length;
    const char *tag = (const char *) event->data.scalar.tag;
    json_t *value;

    if (event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
        && (!tag || strcmp(tag, YAML_STR_TAG))) {
        return plain_scalar(text, len, ret);
    }
    /* libyaml has checked the input is UTF-8, so NULL here means no memory. */
    value = json_stringn(text, len);
    if (!value) {
        return -ENOMEM;
    }
    *ret = value;
    return 0;
}

/* ---- YAML documents ----------------------------------------------------------- */

struct yaml_frame {
    json_t *container;          /* borrowed: the document root owns it */
    char *key;                  /* a mapping's key awaiting its value, or NULL */
    bool items;                 /* the root mapping's "items" sequence */
};

/* Builds one document at a time from events. */
struct yaml_builder {
    struct yaml_frame frames[MANIFEST_MAX_DEPTH];
    size_t depth;
    json_t *root;               /* owned; NULL until the root node starts */
    unsigned root_line;
    unsigned *item_lines;       /* start line of each entry of "items" */
    size_t n_item_lines, allocated_item_lines;
    size_t nodes;               /* values in the whole file so far */
};

static unsigned
event_line(const yaml_event_t *event)
{
    return (unsigned) event->start_mark.line + 1;
}

/* Drops the document being built; keeps the node count, which is per file. */
static void
builder_clear(struct yaml_builder *b)
{
    while (b->depth > 0) {
        free(b->frames[--b->depth].key);
    }
    json_decref(b->root);
    b->root = NULL;
    free(b->item_lines);
    b->item_lines = NULL;
    b->n_item_lines = 0;
    b->allocated_item_lines = 0;
}

static int
count_node(struct yaml_builder *b, unsigned line, struct errmsg *err)
{
    if (++b->nodes > MANIFEST_MAX_NODES) {
        return errmsg_set(err, -E2BIG, "%u: more than %d values", line,
                          MANIFEST_MAX_NODES);
    }
    return 0;
}

/* Stores 'value' (stolen, also on failure) where the document expects the next
 * value: as the root, at the end of a sequence, or under a mapping's pending key. */
static int
builder_attach(struct yaml_builder *b, json_t *value, unsigned line, struct errmsg *err)
{
    struct yaml_frame *top = b->depth ? &b->frames[b->depth - 1] : NULL;
    int r = 0;

    if (!top) {
        b->root = value;
        b->root_line = line;
        return 0;
    }
    if (json_is_array(top->container)) {
        r = json_array_append_new(top->container, value) ? -ENOMEM : 0;
    } else if (!top->key) {
        json_decref(value);
        return errmsg_set(err, -EINVAL, "%u: a mapping key must be a scalar", line);
    } else if (json_object_get(top->container, top->key)) {
        r = errmsg_set(err, -EINVAL, "%u: duplicate key '%.64s'", line, top->key);
        json_decref(value);
    } else {
        r = json_object_set_new(top->container, top->key, value) ? -ENOMEM : 0;
    }
    if (top->key) {
        free(top->key);
        top->key = NULL;
    }
    return r == -ENOMEM ? errmsg_set(err, r, "out of memory") : r;
}

static int
builder_key(struct yaml_builder *b, const yaml_event_t *event, struct errmsg *err)
{
    const char *text = (const char *) event->data.scalar.value;
    size_t len = event->data.scalar.length;

    if (strlen(text) != len) {
        return errmsg_set(err, -EINVAL, "%u: a mapping key contains a NUL character",
                          event_line(event));
    }
    b->frames[b->depth - 1].key = strdup(text);
    return b->frames[b->depth - 1].key ? 0 : errmsg_set(err, -ENOMEM, "out of memory");
}

static bool
expects_key(const struct yaml_builder *b)
{
    const struct yaml_frame *top = b->depth ? &b->frames[b->depth - 1] : NULL;

    return top && json_is_object(top->container) && !top->key;
}

static int
note_item_line(struct yaml_builder *b, unsigned line)
{
    if (b->n_item_lines == b->allocated_item_lines) {
        size_t size = b->allocated_item_lines ? b->allocated_item_lines * 2 : 16;
        unsigned *lines = realloc(b->item_lines, size * sizeof *lines);

        if (!lines) {
            return -ENOMEM;
        }
        b->item_lines = lines;
        b->allocated_item_lines = size;
    }
    b->item_lines[b->n_item_lines++] = line;
    return 0;
}

static int
builder_scalar(struct yaml_builder *b, const yaml_event_t *event, struct errmsg *err)
{
    unsigned line = event_line(event);
    json_t *value;
    int r;

    r = count_node(b, line, err);
    if (r) {
        return r;
    }
    if (expects_key(b)) {
        return builder_key(b, event, err);
    }
    if (b->depth && b->frames[b->depth - 1].items && note_item_line(b, line)) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = scalar_to_json(event, &value);
    if (r == -EDOM) {
        return errmsg_set(err, -EINVAL, "%u: %s has no JSON equivalent", line,
                          (const char *) event->data.scalar.value);
    }
    if (r) {
        return errmsg_set(err, r, "out of memory");
    }
    return builder_attach(b, value, line, err);
}

/* Starts a mapping ('object') or sequence (else). */
static int
builder_open(struct yaml_builder *b, bool object, unsigned line, struct errmsg *err)
{
    struct yaml_frame *top = b->depth ? &b->frames[b->depth - 1] : NULL;
    bool items = !object && b->depth == 1 && top->key && !strcmp(top->key, "items");
    json_t *container;
    int r;

    r = count_node(b, line, err);
    if (r) {
        return r;
    }
    if (b->depth == MANIFEST_MAX_DEPTH) {
        return errmsg_set(err, -E2BIG, "%u: nested deeper than %d levels", line,
                          MANIFEST_MAX_DEPTH);
    }
    if (top && top->items && note_item_line(b, line)) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    container = object ? json_object() : json_array();
    if (!container) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    r = builder_attach(b, container, line, err);
    if (r) {
        return r;
    }
    b->frames[b->depth++] = (struct yaml_frame) { .container = container, .items = items };
    return 0;
}

static int
yaml_syntax_error(const yaml_parser_t *parser, const char *text, size_t len,
                  struct errmsg *err)
{
    unsigned line = (unsigned) parser->problem_mark.line + 1;

    if (parser->error == YAML_MEMORY_ERROR) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    if (parser->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark. */
        line = 1;
        for (size_t i = 0; i < parser->problem_offset && i < len; i++) {
            line += text[i] == '\n';
        }
    }
    if (parser->context) {
        return errmsg_set(err, -EINVAL, "%u: %s (%s started on line %u)", line,
                          parser->problem ? parser->problem : "invalid YAML",
                          parser->context,
                          (unsigned) parser->context_mark.line + 1);
    }
    return errmsg_set(err, -EINVAL, "%u: %s", line,
                      parser->problem ? parser->problem : "invalid YAML");
}

/* Feeds one event to the builder; sets '*done' at the end of the stream. */
static int
yaml_event(struct yaml_builder *b, const yaml_event_t *event, size_t *document,
           struct manifest *m, bool *done, struct errmsg *err)
{
    int r;

    switch (event->type) {
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        r = finish_document(m, b->root, (*document)++, b->root_line, b->item_lines,
                            b->n_item_lines, err);
        builder_clear(b);
        return r;
    case YAML_ALIAS_EVENT:
        return errmsg_set(err, -EINVAL, "%u: YAML aliases are not supported",
                          event_line(event));
    case YAML_SCALAR_EVENT:
        return builder_scalar(b, event, err);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        return builder_open(b, event->type == YAML_MAPPING_START_EVENT,
                            event_line(event), err);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        b->depth--;
        return 0;
    default:
        return 0;
    }
}

static int
yaml_parse_all(const char *text, size_t len, struct manifest *m, struct errmsg *err)
{
    struct yaml_builder b = { .depth = 0 };
    yaml_parser_t parser;
    size_t document = 0;
    bool done = false;
    int r = 0;

    if (!yaml_parser_initialize(&parser)) {
        return errmsg_set(err, -ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    while (!done && !r) {
        yaml_event_t event;

        if (!yaml_parser_parse(&parser, &event)) {
            r = yaml_syntax_error(&parser, text, len, err);
            break;
        }
        r = yaml_event(&b, &event, &document, m, &done, err);
        yaml_event_delete(&event);
    }
    builder_clear(&b);
    yaml_parser_delete(&parser);
    return r;
}

/* ---- JSON --------------------------------------------------------------------- */

/* Counts 'value' and everything in it into '*nodes'; fails past the limits.
 * Recursion stops at MANIFEST_MAX_DEPTH, so the stack stays small. */
static int
json_check_limits(const json_t *value, size_t depth, size_t *nodes)
{
    if (++*nodes > MANIFEST_MAX_NODES) {
        return -E2BIG;
    }
    if (!json_is_object(value) && !json_is_array(value)) {
        return 0;
    }
    if (depth >= MANIFEST_MAX_DEPTH) {
        return -ELOOP;
    }
    if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); i++) {
            int r = json_check_limits(json_array_get(value, i), depth + 1, nodes);

            if (r) {
                return r;
            }
        }
        return 0;
    }
    const char *key;
    const json_t *member;

    json_object_foreach((json_t *) value, key, member) {
        int r = json_check_limits(member, depth + 1, nodes);

        if (r) {
            return r;
        }
    }
    return 0;
}

static bool
is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips white space from '*offset', counting lines into '*line'. */
static void
skip_json_space(const char *text, size_t len, size_t *offset, unsigned *line)
{
    while (*offset < len && is_json_space(text[*offset])) {
        *line += text[(*offset)++] == '\n';
    }
}

/* Parses one JSON value at 'text' (the rest of the file, starting at 'line') and
 * adds it; writes how many bytes it took. */
static int
json_parse_one(const char *text, size_t len, unsigned line, size_t document,
               size_t *nodes, struct manifest *m, size_t *used, struct errmsg *err)
{
    json_error_t jerr;
    json_t *value;
    int r;

    /* "\u0000" is allowed, as a YAML "\0" is (an annotation value can be any
     * string); what reads a string as a C string checks for it (jsontext.h). */
    value = json_loadb(text, len, JSONTEXT_PARSE_FLAGS | JSON_DISABLE_EOF_CHECK, &jerr);
    if (!value) {
        return errmsg_set(err, -EINVAL, "%u: %s",
                          line + (unsigned) (jerr.line > 0 ? jerr.line - 1 : 0), jerr.text);
    }
    r = json_check_limits(value, 0, nodes);
    if (r == -E2BIG) {
        r = errmsg_set(err, r, "%u: more than %d values", line, MANIFEST_MAX_NODES);
    } else if (r) {
        r = errmsg_set(err, -E2BIG, "%u: nested deeper than %d levels", line,
                       MANIFEST_MAX_DEPTH);
    } else {
        r = finish_document(m, value, document, line, NULL, 0, err);
    }
    *used = (size_t) jerr.position;
    json_decref(value);
    return r;
}

/* One JSON value after another, as kubectl accepts them. */
static int
json_parse_all(const char *text, size_t len, struct manifest *m, struct errmsg *err)
{
    size_t offset = 0;
    size_t document = 0;
    size_t nodes = 0;
    unsigned line = 1;

    for (skip_json_space(text, len, &offset, &line); offset < len;
         skip_json_space(text, len, &offset, &line)) {
        size_t used = 0;
        int r = json_parse_one(text + offset, len - offset, line, document++, &nodes,
                               m, &used, err);

        if (r) {
            return r;
        }
        for (size_t i = 0; i < used; i++) {
            line += text[offset + i] == '\n';
        }
        offset += used;
    }
    return 0;
}

/* kubectl's sniffing: JSON when the first non-blank byte is '{'. */
static bool
looks_like_json(const char *text, size_t len)
{
    size_t i = 0;

    while (i < len && is_json_space(text[i])) {
        i++;
    }
    return i < len && text[i] == '{';
}

int
manifest_parse(const char *text, size_t len, struct manifest *ret, struct errmsg *err)
{
    struct manifest m = { .n = 0 };
    int r;

    if (len > MANIFEST_MAX_BYTES) {
        return errmsg_set(err, -E2BIG, "1: larger than %d bytes", MANIFEST_MAX_BYTES);
    }
    r = looks_like_json(text, len) ? json_parse_all(text, len, &m, err)
                                   : yaml_parse_all(text, len, &m, err);
    if (r) {
        manifest_release(&m);
        return r;
    }
    *ret = m;
    return 0;
}

/* ---- files -------------------------------------------------------------------- */

const char *
manifest_display_name(const char *path)
{
    return strcmp(path, "-") ? path : MANIFEST_STDIN_NAME;
}

/* Reads the whole of 'path' ("-": standard input), at most MANIFEST_MAX_BYTES.
 * Returns 0 and writes '*text' (NUL-terminated; caller frees with free()) and
 * '*len', or a negative errno with "cannot open: ...", "cannot read: ..." or
 * "larger than N bytes" in 'err' (without the file name). */
static int
read_file(const char *path, char **text, size_t *len, struct errmsg *err)
{
    bool is_stdin = !strcmp(path, "-");
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int r;

    if (fd < 0) {
        return errmsg_set(err, -errno, "cannot open: %s", strerror(errno));
    }
    r = readfile_fd(fd, MANIFEST_MAX_BYTES, 0, text, len);
    if (r == -EFBIG) {
        r = errmsg_set(err, -E2BIG, "larger than %d bytes", MANIFEST_MAX_BYTES);
    } else if (r < 0) {
        errmsg_set(err, r, r == -ENOMEM ? "out of memory" : "cannot read: %s", strerror(-r));
    }
    if (!is_stdin) {
        close(fd);
    }
    return r;
}

int
manifest_load(const char *path, struct manifest *ret, struct errmsg *err)
{
    const char *name = manifest_display_name(path);
    char *text = NULL;
    size_t len = 0;
    int r;

    r = read_file(path, &text, &len, err);
    if (r) {
        return errmsg_prefix(err, r, "%s", name);
    }
    r = manifest_parse(text, len, ret, err);
    if (r && err) {
        /* Parse messages start with the line: "FILE:LINE: what"; "out of memory"
         * has none: "FILE: out of memory". */
        char message[ERRMSG_MAX];

        memcpy(message, err->text, sizeof message);
        errmsg_set(err, r, message[0] >= '0' && message[0] <= '9' ? "%s:%s" : "%s: %s",
                   name, message);
    }
    free(text);
    return r;
}
