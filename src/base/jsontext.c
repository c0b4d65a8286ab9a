/* jsontext — see include/exportflows/base/jsontext.h. */
#include "exportflows/base/jsontext.h"

#include <string.h>

bool
jsontext_has_nul(const json_t *value)
{
    const char *s = json_string_value(value);

    return s && strlen(s) != json_string_length(value);
}

const char *
jsontext_get(const json_t *value)
{
    return jsontext_has_nul(value) ? NULL : json_string_value(value);
}

bool
jsontext_is(const json_t *value, const char *s)
{
    const char *text = json_string_value(value);

    return text && json_string_length(value) == strlen(s) && !memcmp(text, s, strlen(s));
}
