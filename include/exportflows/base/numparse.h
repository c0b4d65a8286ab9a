/* numparse — checked parsing of numbers from text.  Never use atoi/strtol raw.
 *
 * Every function takes the whole string: no leading or trailing white space, no
 * sign, decimal digits only, and no leading zeros ("0" itself is fine).  They
 * return 0 and write '*ret' on success, -EINVAL for malformed text and -ERANGE for
 * a number outside [min, max]; '*ret' is untouched on failure. */
#ifndef EXPORTFLOWS_NUMPARSE_H
#define EXPORTFLOWS_NUMPARSE_H

#include <stddef.h>
#include <stdint.h>

int numparse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *ret);

/* Same as numparse_u64() over the first 'len' bytes of 'text'. */
int numparse_u64_n(const char *text, size_t len, uint64_t min, uint64_t max,
                   uint64_t *ret);

#endif
