/* jsonscan — fast JSON reading for the requests the webhook answers.
 *
 * jansson's parser reads about 50 MB/s and allocates a node per value, so a
 * 3 KB AdmissionReview costs more to parse than everything else a review does.
 * This module reads JSON two cheaper ways, both held to one rule: it may only
 * ever accept what json_loadb(..., JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
 * accepts, and what it reports must be what jansson would have built.  So a
 * string value may decode to text holding a NUL byte ("\u0000"; Kubernetes
 * stores such strings where any text is allowed, in an annotation say): a
 * caller that reads a string as a C string checks for one
 * (jsonscan_string_has_nul(), or the decoded length).
 *
 *   jsonscan_fields()  validates a whole document without allocating and
 *                      reports where a few chosen members are (by key path);
 *   jsonscan_load()    builds a jansson tree from a text (a document, or a
 *                      value jsonscan_fields() found);
 *   jsonscan_iter_*()  walks the members or elements of a container
 *                      jsonscan_fields() found, without building anything.
 *
 * Both give up (-ENOTSUP) on what they do not handle rather than guess:
 * nesting past JSONSCAN_MAX_DEPTH, objects wider than JSONSCAN_MAX_OBJECT_KEYS
 * (or more than JSONSCAN_MAX_OPEN_KEYS keys in the objects open at once), and
 * a real within a factor 10 of DBL_MAX written in more than 128 bytes (only
 * strtod() can tell whether it overflows, and it is not copied that far).  A
 * caller then parses with jansson, which decides and words any error.  So a
 * refusal by this module is never final: only jansson's is.  Legal input the
 * kube-apiserver sends is read in full: escaped keys and exponents included.
 *
 * What jsonscan_fields() validates, everywhere in the document (also in the
 * members it skips): RFC 8259 syntax, the four white-space characters, strings
 * (no control characters, valid escapes, \u0000 in values but not in keys, as
 * jansson reads them with JSON_ALLOW_NUL, paired surrogates, UTF-8
 * as jansson checks it: no overlong forms, no surrogates, nothing past
 * U+10FFFF), numbers as jansson's lexer reads them (no leading zeros; an
 * integer, without fraction or exponent, must fit json_int_t; a real must not
 * overflow strtod(), while underflow is accepted), nothing after the top-level
 * value, and no duplicate key in any object (keys with escapes are compared
 * decoded).  The top level must be an object or an array, as jansson requires
 * without JSON_DECODE_ANY. */
#ifndef EXPORTFLOWS_JSONSCAN_H
#define EXPORTFLOWS_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define JSONSCAN_MAX_DEPTH 64           /* nesting; jansson allows 2048 */
#define JSONSCAN_MAX_OBJECT_KEYS 64     /* keys of one object (duplicate checks) */
#define JSONSCAN_MAX_OPEN_KEYS 512      /* keys of all the objects open at once */
#define JSONSCAN_MAX_PATHS 32

enum jsonscan_type {
    JSONSCAN_ABSENT = 0,
    JSONSCAN_OBJECT,
    JSONSCAN_ARRAY,
    JSONSCAN_STRING,
    JSONSCAN_NUMBER,
    JSONSCAN_TRUE,
    JSONSCAN_FALSE,
    JSONSCAN_NULL,
};

/* One value found in a document: its type and its JSON text, borrowed from the
 * document (a string's text includes its quotes). */
struct jsonscan_value {
    enum jsonscan_type type;
    const char *text;
    size_t len;
};

/* Validates 'text' ('len' bytes, borrowed) and finds members by key path.
 * 'paths' holds 'n_paths' (at most JSONSCAN_MAX_PATHS) NULL-terminated key
 * lists, such as { "request", "uid", NULL }; a path only goes through objects.
 * Returns 0 and sets values[i] for path i (type JSONSCAN_ABSENT when the
 * document has no such member); -EINVAL when jansson would refuse the text;
 * -ENOTSUP when the text is beyond what this module reads (see above); -E2BIG
 * for too many paths.  'values' is written in full in every case. */
int jsonscan_fields(const char *text, size_t len, const char *const *const *paths,
                    size_t n_paths, struct jsonscan_value *values);

/* Builds the jansson value of the JSON text 'text' ('len' bytes; any value,
 * white space around it allowed), equal to what json_loadb() with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL builds.  Validates as
 * jsonscan_fields() does, but objects may be of any width; a real is made by
 * strtod() as jansson makes it (in the "C" locale, as jansson's own conversion
 * of '.' to the locale's decimal point amounts to; a real longer than 128
 * bytes is given up on).  Returns 0 and a new reference in
 * '*ret'; -ENOTSUP when this reader gives up, invalid JSON included (jansson
 * words the error); -ENOMEM. */
int jsonscan_load(const char *text, size_t len, json_t **ret);

/* The jansson value of 'value', found by jsonscan_fields() (so valid): built by
 * jsonscan_load(), or by json_loadb() (JSONTEXT_PARSE_FLAGS) for the long real
 * it gives up on, so the only failure left is memory.  Returns 0 and a new
 * reference in '*ret', or -ENOMEM. */
int jsonscan_load_value(const struct jsonscan_value *value, json_t **ret);

/* Decodes the string 'value' (found by jsonscan_fields(), so valid) into 'buf'
 * ('size' bytes, NUL-terminated).  Returns 0 and its length without the
 * terminating NUL in '*ret_len' (the text itself holds a NUL when the string
 * has "\u0000": then strlen(buf) < '*ret_len'); -EINVAL when 'value' is not a
 * string; -ENOSPC when it does not fit. */
int jsonscan_string(const struct jsonscan_value *value, char *buf, size_t size,
                    size_t *ret_len);

/* True when 'value' is a string equal to 's' once decoded, over its whole
 * length (so never when it holds a NUL byte). */
bool jsonscan_string_is(const struct jsonscan_value *value, const char *s);

/* True when 'value' is a string whose decoded text holds a NUL byte. */
bool jsonscan_string_has_nul(const struct jsonscan_value *value);

/* A walk over the members of an object, or the elements of an array, that
 * jsonscan_fields() found (so valid text: the walk does not check it again). */
struct jsonscan_iter {
    const char *p, *end;
    bool object;
};

/* Starts a walk over 'container' (borrowed, with the document it points
 * into).  0, or -EINVAL when it is neither an object nor an array. */
int jsonscan_iter_init(struct jsonscan_iter *it, const struct jsonscan_value *container);

/* Moves to the next member or element: true, with its key in '*key' (a
 * string value; objects only, 'key' may be NULL for arrays) and its value in
 * '*value'; false at the end. */
bool jsonscan_iter_next(struct jsonscan_iter *it, struct jsonscan_value *key,
                        struct jsonscan_value *value);

#endif
