/* fielderr — Kubernetes-style field errors and warnings; see fielderr.h.
 *
 * Memory: the list's own storage (the error array, one block per error holding
 * field, value and detail back to back, and the warnings) comes from jansson's
 * allocator (json_get_alloc_funcs()).  The whole validation path then has a
 * single allocation hook, which the allocation-failure tests use; by default it
 * is malloc/free.  Strings handed to the caller (fielderr_message() and friends)
 * come from malloc() as the header promises.
 *
 * Every string that can grow with the input is bounded before it is stored:
 * values (FIELDERR_VALUE_MAX), fields (FIELDERR_FIELD_MAX), details and warnings. */
#include "exportflows/admission/fielderr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exportflows/base/capbuf.h"

/* Longest rendered value kept; longer ones end in "...". */
#define FIELDERR_VALUE_MAX 96
/* String values are cut to this many bytes of content before escaping. */
#define FIELDERR_STRING_MAX 80
#define FIELDERR_FIELD_MAX 256
#define FIELDERR_DETAIL_MAX 256

static void *
list_alloc(size_t size)
{
    json_malloc_t alloc;
    json_free_t dealloc;

    json_get_alloc_funcs(&alloc, &dealloc);
    return alloc(size);
}

static void
list_free(void *p)
{
    json_malloc_t alloc;
    json_free_t dealloc;

    if (p) {
        json_get_alloc_funcs(&alloc, &dealloc);
        dealloc(p);
    }
}

void
fielderr_list_init(struct fielderr_list *list)
{
    memset(list, 0, sizeof *list);
}

void
fielderr_list_release(struct fielderr_list *list)
{
    if (!list) {
        return;
    }
    for (size_t i = 0; i < list->n_errors; i++) {
        list_free(list->errors[i].field);   /* value and detail live in it */
    }
    list_free(list->errors);
    for (size_t i = 0; i < list->n_warnings; i++) {
        list_free(list->warnings[i]);
    }
    list_free(list->warnings);
    fielderr_list_init(list);
}

size_t
fielderr_list_count(const struct fielderr_list *list)
{
    return list->n_errors + list->n_dropped_errors;
}

/* Length of the longest prefix of 's' that is at most 'max' bytes and does not
 * end inside a UTF-8 sequence. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max) {
        return len;
    }
    while (max > 0 && ((unsigned char) s[max] & 0xc0) == 0x80) {
        max--;
    }
    return max;
}

/* Length of 's' without a UTF-8 sequence cut short at its end. */
static size_t
utf8_complete(const char *s, size_t len)
{
    size_t lead = len;
    unsigned char c;
    size_t need;

    while (lead > 0 && ((unsigned char) s[lead - 1] & 0xc0) == 0x80) {
        lead--;
    }
    if (lead == 0) {
        return len;
    }
    c = (unsigned char) s[lead - 1];
    need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return len - (lead - 1) >= need ? len : lead - 1;
}

/* The two-character JSON escape of 'c', or NULL. */
static const char *
short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        return NULL;
    }
}

static void
render_char(struct capbuf *tb, unsigned char c)
{
    const char *short_esc = short_escape(c);
    char esc[8];

    if (short_esc) {
        capbuf_append(tb, short_esc, 2);
    } else if (c < 0x20 || c == 0x7f) {
        capbuf_append(tb, esc, (size_t) snprintf(esc, sizeof esc, "\\u%04x", c));
    } else {
        capbuf_append(tb, (const char *) &c, 1);
    }
}

/* JSON string escaping, close to what Go's %q shows in kubectl.  At most
 * FIELDERR_STRING_MAX bytes of content are shown, fewer when escapes would
 * overflow the buffer; a shortened string ends in `..."`. */
static void
render_string(struct capbuf *tb, const char *s, size_t len)
{
    size_t room = tb->max - 4;          /* keep room for `..."` */
    size_t cut = utf8_cut(s, len, FIELDERR_STRING_MAX);
    size_t i;

    capbuf_append(tb, "\"", 1);
    for (i = 0; i < cut && tb->len + 6 <= room; i++) {
        render_char(tb, (unsigned char) s[i]);
    }
    if (i < len) {
        capbuf_truncate(tb, utf8_complete(tb->data, tb->len));
        capbuf_append(tb, "...\"", 4);
    } else {
        capbuf_append(tb, "\"", 1);
    }
}

static int
render_callback(const char *s, size_t n, void *tb)
{
    return capbuf_append(tb, s, n) ? -1 : 0;   /* stop dumping at the cap */
}

/* Renders 'value' as JSON into 'buf', at most FIELDERR_VALUE_MAX bytes.  For
 * "Too many" an array renders as its size, as Kubernetes prints the count. */
static void
render_value(enum fielderr_type type, const json_t *value,
             char buf[FIELDERR_VALUE_MAX + 1])
{
    struct capbuf tb;
    int r;

    /* Three bytes past the capbuf's are kept for "...". */
    capbuf_init_fixed(&tb, buf, FIELDERR_VALUE_MAX + 1 - 3, CAPBUF_CUT);
    if (type == FIELDERR_TOO_MANY && json_is_array(value)) {
        snprintf(buf, FIELDERR_VALUE_MAX + 1, "%zu", json_array_size(value));
        return;
    }
    if (json_is_string(value)) {
        capbuf_init_fixed(&tb, buf, FIELDERR_VALUE_MAX + 1, CAPBUF_CUT);
        render_string(&tb, json_string_value(value), json_string_length(value));
        return;
    }
    r = json_dump_callback(value, render_callback, &tb, JSON_ENCODE_ANY | JSON_COMPACT);
    if (r && tb.error != -E2BIG) {
        capbuf_reset(&tb);      /* out of memory: show the type at least */
        capbuf_append(&tb, json_is_object(value) ? "{...}" : "[...]", 5);
    } else if (r) {
        capbuf_truncate(&tb, utf8_complete(buf, tb.len));
        memcpy(buf + tb.len, "...", 4);
    }
}

static bool
type_has_value(enum fielderr_type type)
{
    return type != FIELDERR_REQUIRED && type != FIELDERR_FORBIDDEN;
}

/* Stores one error in a single block: field, value, detail, each NUL-ended. */
static int
store_error(struct fielderr_list *list, enum fielderr_type type,
            const char *field, const char *value, const char *detail)
{
    size_t nf = strnlen(field, FIELDERR_FIELD_MAX);
    size_t nv = value ? strlen(value) + 1 : 0;
    size_t nd = detail ? strlen(detail) + 1 : 0;
    struct fielderr *e;
    char *block;

    if (!list->errors) {
        list->errors = list_alloc(FIELDERR_MAX_ERRORS * sizeof *list->errors);
        if (!list->errors) {
            return -1;
        }
    }
    block = list_alloc(nf + 1 + nv + nd);
    if (!block) {
        return -1;
    }
    e = &list->errors[list->n_errors++];
    e->type = type;
    e->field = block;
    memcpy(block, field, nf);
    block[nf] = '\0';
    e->value = value ? memcpy(block + nf + 1, value, nv) : NULL;
    e->detail = detail ? memcpy(block + nf + 1 + nv, detail, nd) : NULL;
    return 0;
}

void
fielderr_add(struct fielderr_list *list, enum fielderr_type type,
             const char *field, const json_t *value, const char *detail_fmt, ...)
{
    char rendered[FIELDERR_VALUE_MAX + 1];
    char detail[FIELDERR_DETAIL_MAX];
    bool has_value = type_has_value(type);

    if (list->n_errors >= FIELDERR_MAX_ERRORS) {
        list->n_dropped_errors++;
        return;
    }
    if (has_value) {
        if (value) {
            render_value(type, value, rendered);
        } else {
            memcpy(rendered, "null", 5);
        }
    }
    if (detail_fmt) {
        va_list ap;

        va_start(ap, detail_fmt);
        vsnprintf(detail, sizeof detail, detail_fmt, ap);
        va_end(ap);
    }
    if (store_error(list, type, field, has_value ? rendered : NULL,
                    detail_fmt ? detail : NULL)) {
        list->n_dropped_errors++;
    }
}

/* The warning array's capacity is implied by its size: 4, then powers of two,
 * so it grows exactly when the size is 0 or a power of two from 4 on. */
static bool
warnings_full(size_t n)
{
    return n == 0 || (n >= 4 && (n & (n - 1)) == 0);
}

static int
store_warning(struct fielderr_list *list, const char *text, size_t len)
{
    char *copy;

    if (warnings_full(list->n_warnings)) {
        size_t cap = list->n_warnings ? list->n_warnings * 2 : 4;
        char **grown = list_alloc(cap * sizeof *grown);

        if (!grown) {
            return -1;
        }
        if (list->n_warnings) {
            memcpy(grown, list->warnings, list->n_warnings * sizeof *grown);
        }
        list_free(list->warnings);
        list->warnings = grown;
    }
    copy = list_alloc(len + 1);
    if (!copy) {
        return -1;
    }
    memcpy(copy, text, len + 1);
    list->warnings[list->n_warnings++] = copy;
    list->warning_bytes += len;
    return 0;
}

void
fielderr_warn(struct fielderr_list *list, const char *fmt, ...)
{
    char text[FIELDERR_WARNING_MAX + 1];
    va_list ap;
    int n;
    size_t len;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    len = n < 0 ? 0 : (size_t) n;
    if (len > FIELDERR_WARNING_MAX) {
        len = utf8_cut(text, FIELDERR_WARNING_MAX, FIELDERR_WARNING_MAX - 3);
        memcpy(text + len, "...", 4);
        len += 3;
    }
    if (list->warning_bytes + len > FIELDERR_WARNINGS_TOTAL_MAX
        || store_warning(list, text, len)) {
        list->n_dropped_warnings++;
    }
}

const char *
fielderr_type_label(enum fielderr_type type)
{
    switch (type) {
    case FIELDERR_DUPLICATE:
        return "Duplicate value";
    case FIELDERR_REQUIRED:
        return "Required value";
    case FIELDERR_NOT_SUPPORTED:
        return "Unsupported value";
    case FIELDERR_FORBIDDEN:
        return "Forbidden";
    case FIELDERR_TOO_MANY:
        return "Too many";
    case FIELDERR_INVALID:
    case FIELDERR_TYPE_INVALID:
    default:
        return "Invalid value";
    }
}

const char *
fielderr_type_reason(enum fielderr_type type)
{
    switch (type) {
    case FIELDERR_DUPLICATE:
        return "FieldValueDuplicate";
    case FIELDERR_REQUIRED:
        return "FieldValueRequired";
    case FIELDERR_NOT_SUPPORTED:
        return "FieldValueNotSupported";
    case FIELDERR_FORBIDDEN:
        return "FieldValueForbidden";
    case FIELDERR_TOO_MANY:
        return "FieldValueTooMany";
    case FIELDERR_TYPE_INVALID:
        return "FieldValueTypeInvalid";
    case FIELDERR_INVALID:
    default:
        return "FieldValueInvalid";
    }
}

/* Writes the message of 'e' to 'f' (a memory stream). */
static void
print_message(FILE *f, const struct fielderr *e)
{
    fputs(fielderr_type_label(e->type), f);
    if (e->value) {
        fprintf(f, ": %s", e->value);
    }
    if (e->detail && e->value && e->type == FIELDERR_DUPLICATE) {
        fprintf(f, " (%s)", e->detail);
    } else if (e->detail) {
        fprintf(f, ": %s", e->detail);
    }
}

static void
print_error(FILE *f, const struct fielderr *e)
{
    fprintf(f, "%s: ", e->field);
    print_message(f, e);
}

/* Runs 'print' on a memory stream; returns its text or NULL on ENOMEM. */
static char *
print_to_string(void (*print)(FILE *, const void *), const void *arg)
{
    char *text = NULL;
    size_t len;
    FILE *f = open_memstream(&text, &len);

    if (!f) {
        return NULL;
    }
    print(f, arg);
    if (ferror(f)) {
        fclose(f);
        free(text);
        return NULL;
    }
    if (fclose(f)) {
        free(text);
        return NULL;
    }
    return text;
}

static void
print_message_cb(FILE *f, const void *e)
{
    print_message(f, e);
}

static void
print_error_cb(FILE *f, const void *e)
{
    print_error(f, e);
}

static void
print_summary_cb(FILE *f, const void *list_)
{
    const struct fielderr_list *list = list_;
    bool brackets = list->n_errors + list->n_dropped_errors > 1;

    if (brackets) {
        fputc('[', f);
    }
    for (size_t i = 0; i < list->n_errors; i++) {
        if (i) {
            fputs(", ", f);
        }
        print_error(f, &list->errors[i]);
    }
    if (list->n_dropped_errors) {
        fprintf(f, "%sand %zu more", list->n_errors ? ", " : "",
                list->n_dropped_errors);
    }
    if (brackets) {
        fputc(']', f);
    }
}

char *
fielderr_message(const struct fielderr *e)
{
    return print_to_string(print_message_cb, e);
}

char *
fielderr_format(const struct fielderr *e)
{
    return print_to_string(print_error_cb, e);
}

char *
fielderr_list_summary(const struct fielderr_list *list)
{
    return print_to_string(print_summary_cb, list);
}
