/* fielderr — Kubernetes-style field errors and warnings about one object.
 *
 * An error prints as Kubernetes prints a field.Error:
 *   spec.exportNetworkFlows.ipfix[0]: Invalid value: "10.0.0.1:70000": port must be between 1 and 65535
 *   spec.exportNetworkFlows.netFlow[1]: Duplicate value: "172.30.158.150:2056" (same as netFlow[0])
 * that is "<field>: <message>", the message being "<Type>: <value>: <detail>", with
 * the value left out for types that have none and, for Duplicate, the detail in
 * parentheses.  Values print as JSON (strings quoted), long ones shortened.
 *
 * A 'struct fielderr_list' collects every error and warning found in one pass; it
 * keeps at most FIELDERR_MAX_ERRORS errors and counts the rest, and keeps warnings
 * within Kubernetes' limits (FIELDERR_WARNING_MAX each, FIELDERR_WARNINGS_TOTAL_MAX
 * in all), counting what did not fit.  The list owns all of its strings. */
#ifndef EXPORTFLOWS_FIELDERR_H
#define EXPORTFLOWS_FIELDERR_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define FIELDERR_MAX_ERRORS 50
#define FIELDERR_WARNING_MAX 120
#define FIELDERR_WARNINGS_TOTAL_MAX 4096

enum fielderr_type {
    FIELDERR_INVALID,           /* "Invalid value", reason FieldValueInvalid */
    FIELDERR_DUPLICATE,         /* "Duplicate value", FieldValueDuplicate */
    FIELDERR_REQUIRED,          /* "Required value", FieldValueRequired (no value) */
    FIELDERR_NOT_SUPPORTED,     /* "Unsupported value", FieldValueNotSupported */
    FIELDERR_FORBIDDEN,         /* "Forbidden", FieldValueForbidden (no value) */
    FIELDERR_TOO_MANY,          /* "Too many", FieldValueTooMany */
    FIELDERR_TYPE_INVALID,      /* "Invalid value", FieldValueTypeInvalid */
};

struct fielderr {
    enum fielderr_type type;
    char *field;                /* "spec.exportNetworkFlows.netFlow[1]" */
    char *value;                /* rendered value, NULL for types without one */
    char *detail;               /* may be NULL */
};

struct fielderr_list {
    struct fielderr *errors;
    size_t n_errors;
    size_t n_dropped_errors;    /* errors past FIELDERR_MAX_ERRORS or lost to ENOMEM */
    char **warnings;
    size_t n_warnings;
    size_t warning_bytes;
    size_t n_dropped_warnings;
};

void fielderr_list_init(struct fielderr_list *list);
/* Frees everything 'list' owns and leaves it empty; accepts NULL. */
void fielderr_list_release(struct fielderr_list *list);

/* Total errors found, kept or not. */
size_t fielderr_list_count(const struct fielderr_list *list);

/* Appends an error.  'value' (borrowed, may be NULL) is rendered as JSON; 'field' is
 * the full path; 'detail_fmt' may be NULL.  Never fails: on ENOMEM the error is
 * counted as dropped. */
void fielderr_add(struct fielderr_list *list, enum fielderr_type type,
                  const char *field, const json_t *value, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Appends a warning, shortened to FIELDERR_WARNING_MAX bytes; dropped when the total
 * would pass FIELDERR_WARNINGS_TOTAL_MAX. */
void fielderr_warn(struct fielderr_list *list, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "Invalid value", "Duplicate value", ... */
const char *fielderr_type_label(enum fielderr_type type);
/* "FieldValueInvalid", ... (metav1.CauseType) */
const char *fielderr_type_reason(enum fielderr_type type);

/* The message part, without the field: "Invalid value: \"x\": detail".
 * Caller frees the result with free(); NULL on ENOMEM. */
char *fielderr_message(const struct fielderr *e);
/* "<field>: <message>".  Caller frees with free(); NULL on ENOMEM. */
char *fielderr_format(const struct fielderr *e);

/* Every error as Kubernetes aggregates them: the single error as is, several as
 * "[e1, e2, ...]", plus ", and N more" inside the brackets when some were dropped.
 * Caller frees with free(); NULL on ENOMEM. */
char *fielderr_list_summary(const struct fielderr_list *list);

#endif
