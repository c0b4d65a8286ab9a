/* jsontext — strings of jansson trees read as C strings, NUL bytes refused.
 *
 * A JSON string may hold "\u0000", and Kubernetes stores such strings where
 * any text is allowed (an annotation value, say).  So trees of outside
 * documents are parsed with JSON_ALLOW_NUL, and a string value may then hold
 * a NUL byte, which json_string_value() silently cuts at:
 * "10.0.0.1:2056\u0000junk" would read as "10.0.0.1:2056".  Code that reads a
 * string as a C string (compares it, parses it, copies it) takes it through
 * here, and refuses one that holds a NUL.  (Object keys never hold one:
 * jansson refuses "\u0000" in keys even with JSON_ALLOW_NUL.)
 *
 * Every 'value' is borrowed and may be NULL; nothing here allocates. */
#ifndef EXPORTFLOWS_JSONTEXT_H
#define EXPORTFLOWS_JSONTEXT_H

#include <stdbool.h>

#include <jansson.h>

/* How the programs parse JSON from outside (request bodies, API server
 * replies and watch events, the config payload, manifests): duplicate keys
 * refused, "\u0000" allowed. */
#define JSONTEXT_PARSE_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* The detail of every error about such a string, after its field or value. */
#define JSONTEXT_NUL_DETAIL "must not contain a NUL character"

/* The text of the string 'value' (borrowed from it), NULL when 'value' is not
 * a string or holds a NUL byte. */
const char *jsontext_get(const json_t *value);

/* True when 'value' is a string that holds a NUL byte. */
bool jsontext_has_nul(const json_t *value);

/* True when 'value' is a string equal to 's' over its whole length. */
bool jsontext_is(const json_t *value, const char *s);

#endif
