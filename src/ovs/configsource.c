/* configsource — the applier's config source interface and the policy every
 * kind shares: what to do with new text or with no text.  See configsource.h. */
#include "exportflows/ovs/configsource.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
configsource_init(struct configsource *source, const struct configsource_class *class,
                  const char *fmt, ...)
{
    va_list args;

    memset(source, 0, sizeof *source);
    source->class = class;
    va_start(args, fmt);
    vsnprintf(source->description, sizeof source->description, fmt, args);
    va_end(args);
}

/* Takes 'text' as the last seen text and parses it. */
static int
take_text(struct configsource *source, char *text, size_t len, struct errmsg *err)
{
    struct flowconfig config;
    int rc;

    free(source->text);
    source->text = text;
    source->text_len = len;
    source->reported_no_text = false;
    rc = flowconfig_parse(text, len, &config, err);
    if (rc < 0) {
        return errmsg_prefix(err, rc, "refused %s", source->description);
    }
    source->config = config;
    source->has_config = true;
    return CONFIGSOURCE_CHANGED;
}

/* No text, for the reason 'code' and the message in 'err': said once per
 * reason.  The remembered text is forgotten so that the same text coming back
 * is taken (and reported) as new. */
static int
no_text(struct configsource *source, int code, struct errmsg *err)
{
    const char *message = err ? err->text : "";

    free(source->text);
    source->text = NULL;
    if (source->reported_no_text && code == source->no_text_code
        && !strcmp(message, source->no_text.text)) {
        return CONFIGSOURCE_UNCHANGED;
    }
    source->reported_no_text = true;
    source->no_text_code = code;
    snprintf(source->no_text.text, sizeof source->no_text.text, "%s", message);
    if (source->has_config) {
        errmsg_set(err, code, "%s: keeping the last config", source->no_text.text);
    }
    return code;
}

int
configsource_run(struct configsource *source, uint64_t now_ms, struct errmsg *err)
{
    struct errmsg why = { "" };
    char *text = NULL;
    size_t len = 0;
    int code = -ENOENT;

    switch (source->class->poll(source, now_ms, &text, &len, &code, &why)) {
    case CONFIGSOURCE_SEEN_TEXT:
        if (source->text && len == source->text_len && !memcmp(text, source->text, len)) {
            free(text);
            return CONFIGSOURCE_UNCHANGED;  /* e.g. a relist, a touched file */
        }
        return take_text(source, text, len, err);
    case CONFIGSOURCE_SEEN_NO_TEXT:
        free(text);
        code = code < 0 ? code : -ENOENT;
        if (no_text(source, code, &why) == CONFIGSOURCE_UNCHANGED) {
            return CONFIGSOURCE_UNCHANGED;
        }
        return errmsg_set(err, code, "%s", why.text);
    case CONFIGSOURCE_SEEN_NOTHING:
        free(text);
        break;
    }
    return CONFIGSOURCE_UNCHANGED;
}

void
configsource_wait(const struct configsource *source, uint64_t now_ms,
                  struct pollfd *pfd, int *timeout_ms)
{
    source->class->wait(source, now_ms, pfd, timeout_ms);
}

const struct flowconfig *
configsource_current(const struct configsource *source)
{
    return source->has_config ? &source->config : NULL;
}

const char *
configsource_describe(const struct configsource *source)
{
    return source->description;
}

void
configsource_destroy(struct configsource *source)
{
    if (source) {
        free(source->text);
        source->text = NULL;
        source->class->destroy(source);
    }
}
