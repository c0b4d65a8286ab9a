/* manifest — Kubernetes manifests read from YAML or JSON text, as jansson values.
 *
 * What `exportflows validate` accepts, the way kubectl reads it:
 *   - JSON when the first non-blank byte is '{': one object, or several objects one
 *     after the other; duplicate keys are refused;
 *   - YAML otherwise: one or several documents separated by "---"; empty documents
 *     are skipped;
 *   - an object whose kind ends in "List" and that has "items" stands for its items.
 *
 * YAML scalars are typed as Kubernetes' YAML-to-JSON conversion (go-yaml v2, YAML
 * 1.1) types them, so the webhook sees the same JSON: a plain (unquoted) scalar is
 * null for "", "~", "null"; a boolean for true/false, yes/no, on/off, y/n (in
 * lower, Capitalised or UPPER case); an integer for decimal, 0x hex, 0o or
 * leading-zero octal and 0b binary; a number for decimal floats; a string for
 * everything else ("172.30.158.150:2056", "1:20", and dates, which Kubernetes
 * would rewrite as RFC 3339 times but keep as strings too).  Quoted, block and
 * "!!str"-tagged scalars are always strings.  ".inf" and ".nan" have no JSON form
 * and are refused.
 *
 * Limits, because manifests may come from anywhere: MANIFEST_MAX_BYTES of text,
 * MANIFEST_MAX_DEPTH levels of nesting, MANIFEST_MAX_NODES values per file.  YAML
 * aliases ("*name") are refused, which rules out "billion laughs" expansion;
 * duplicate mapping keys are refused as kubectl's strict decoding does.
 *
 * Error messages start with the 1-based line the problem is on: "12: duplicate
 * key 'spec'"; manifest_load() puts the file name in front: "net.yaml:12: ...". */
#ifndef EXPORTFLOWS_MANIFEST_H
#define EXPORTFLOWS_MANIFEST_H

#include <jansson.h>
#include <stddef.h>

#include "exportflows/base/errmsg.h"

#define MANIFEST_MAX_BYTES (8 * 1024 * 1024)
#define MANIFEST_MAX_DEPTH 64
#define MANIFEST_MAX_NODES (1024 * 1024)

/* The name manifest_load() and callers use for standard input ("-"). */
#define MANIFEST_STDIN_NAME "<stdin>"

/* One object of a manifest and where it came from. */
struct manifest_object {
    json_t *json;               /* owned reference to the object */
    size_t document;            /* 0-based YAML document or JSON value in the file */
    long item;                  /* index in the List's items; -1 when not in a List */
    unsigned line;              /* 1-based line where the object starts */
};

/* The objects of one file, in file order.  Owns every object. */
struct manifest {
    struct manifest_object *objects;
    size_t n;
    size_t allocated;           /* room in 'objects'; manifest.c's business */
};

/* Frees every object of 'manifest' and leaves it empty; accepts NULL. */
void manifest_release(struct manifest *manifest);

/* Parses 'len' bytes of 'text' (borrowed; need not be NUL-terminated).  Returns 0
 * and writes '*ret' (caller releases it with manifest_release()), -E2BIG when the
 * text or its values exceed the limits, -EINVAL for malformed text or a value that
 * is not an object, -ENOMEM; '*ret' is untouched on failure and 'err' says
 * "LINE: what". */
int manifest_parse(const char *text, size_t len, struct manifest *ret,
                   struct errmsg *err);

/* Reads the whole of 'path' ("-": standard input), at most MANIFEST_MAX_BYTES,
 * then manifest_parse()s it.  On failure 'err' holds "FILE: what" (e.g. "cannot
 * open: ...", "larger than N bytes") or, for syntax errors, "FILE:LINE: what",
 * FILE being 'path' or MANIFEST_STDIN_NAME. */
int manifest_load(const char *path, struct manifest *ret, struct errmsg *err);

/* The name to show for 'path': MANIFEST_STDIN_NAME for "-", else 'path'. */
const char *manifest_display_name(const char *path);

#endif
